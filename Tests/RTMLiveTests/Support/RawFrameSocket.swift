import NIOCore
import NIOPosix
import RTMTestSupport
import Synchronization

/// A WebSocket client on raw TCP for tests: it writes any bytes (unmasked frames, RSV bits, reserved
/// opcodes, bad close payloads, invalid UTF-8), and it can read nothing at all, with a small receive
/// buffer, so the server's writes back up.
final class RawFrameSocket: Sendable {
    let channel: any Channel
    private let received: Collector

    private init(channel: any Channel, received: Collector) {
        self.channel = channel
        self.received = received
    }

    /// Connects to the server at `port` and sends the upgrade request to `/v1/ws`. With `reading`
    /// false the socket never reads (its receive buffer is a few KB), as a client that stopped reading.
    static func connect(port: Int, reading: Bool = true) async throws -> RawFrameSocket {
        let collector = Collector()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))   // bounded, as in RawTCP
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
        if !reading {
            bootstrap = bootstrap.channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 4096)
                .channelOption(ChannelOptions.autoRead, value: false)
        }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        let socket = RawFrameSocket(channel: channel, received: collector)
        try await socket.send(Array(("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
        return socket
    }

    /// One frame's bytes as a client would send it: masked unless `masked` is false, `rsv` in the
    /// first byte's bits 4–6 (0x40 is RSV1).
    static func frame(opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        switch payload.count {
        case ..<126: bytes.append(maskBit | UInt8(payload.count))
        case ...0xFFFF: bytes.append(maskBit | 126); bytes += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default: bytes.append(maskBit | 127); bytes += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        guard masked else { return bytes + payload }
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        return bytes + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    /// A masked text frame of `text`.
    static func text(_ text: String) -> [UInt8] { frame(opcode: 0x1, Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    /// The status code of the server's close frame, once one arrived (bounded wait); `nil` if none did.
    func closeCode() async -> Int? {
        var code: Int?
        await waitUntil {
            code = received.closeCode()
            return code != nil
        }
        return code
    }

    /// Whether a reply frame (`"reply":`) arrived (bounded wait).
    func receivedReply() async -> Bool {
        await waitUntil { received.texts().contains { $0.contains("\"reply\":") } }
    }

    /// Collects what the server sends and parses its (unmasked) frames after the upgrade response.
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        private let bytes = Mutex<[UInt8]>([])

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            bytes.withLock { $0 += buffer.readableBytesView }
        }

        /// The server's frames: (opcode, payload), complete ones only.
        func frames() -> [(UInt8, [UInt8])] {
            let all = bytes.withLock { $0 }
            guard let headerEnd = all.indices.dropLast(3).first(where: { all[$0] == 13 && all[$0 + 1] == 10 && all[$0 + 2] == 13 && all[$0 + 3] == 10 })
            else { return [] }
            var frames: [(UInt8, [UInt8])] = []
            var index = headerEnd + 4
            while index + 2 <= all.count {
                let opcode = all[index] & 0x0F
                var length = Int(all[index + 1] & 0x7F)
                var start = index + 2
                if length == 126 {
                    guard start + 2 <= all.count else { break }
                    length = Int(all[start]) << 8 | Int(all[start + 1])
                    start += 2
                } else if length == 127 {
                    guard start + 8 <= all.count else { break }
                    length = all[start..<start + 8].reduce(0) { $0 << 8 | Int($1) }
                    start += 8
                }
                guard start + length <= all.count else { break }
                frames.append((opcode, Array(all[start..<start + length])))
                index = start + length
            }
            return frames
        }

        func closeCode() -> Int? {
            guard let close = frames().first(where: { $0.0 == 0x8 }) else { return nil }
            return close.1.count >= 2 ? Int(close.1[0]) << 8 | Int(close.1[1]) : 1005
        }

        func texts() -> [String] {
            frames().filter { $0.0 == 0x1 }.map { String(decoding: $0.1, as: UTF8.self) }
        }
    }
}
