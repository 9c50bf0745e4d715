import Foundation
import NIOCore
import NIOPosix
import RTMTestSupport
import Synchronization

/// A plain TCP connection for tests: sends any bytes (requests an HTTP client would refuse to send,
/// a request one byte at a time) and records what comes back and whether the server closed.
final class RawTCP: Sendable {
    private final class Received: Sendable {
        let state = Mutex<(bytes: [UInt8], closed: Bool)>(([], false))
    }

    private final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let received: Received

        init(_ received: Received) {
            self.received = received
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received.state.withLock { $0.bytes += buffer.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            received.state.withLock { $0.closed = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)   // a reset counts as closed
        }
    }

    private let received: Received
    let channel: any Channel

    private init(channel: any Channel, received: Received) {
        self.channel = channel
        self.received = received
    }

    static func connect(port: Int, host: String = "127.0.0.1") async throws -> RawTCP {
        let received = Received()
        // A bounded connect: a server that stopped accepting leaves SYNs unanswered once its backlog
        // is full, and the kernel would retry them for about two minutes per connection.
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Recorder(received)) }
            }
            .connect(host: host, port: port).get()
        return RawTCP(channel: channel, received: received)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// What the server sent so far, as text.
    var text: String {
        received.state.withLock { String(decoding: $0.bytes, as: UTF8.self) }
    }

    /// What the server sent so far.
    var bytes: [UInt8] {
        received.state.withLock { $0.bytes }
    }

    /// Whether the server closed the connection.
    var isClosed: Bool {
        received.state.withLock { $0.closed }
    }

    /// Waits (bounded) for the server to close the connection; whether it did.
    func waitForClose() async -> Bool {
        await waitUntil { isClosed }
    }

    /// The status codes of the responses whose heads arrived (after a bounded wait for `count`).
    func statuses(count: Int = 1) async -> [Int] {
        await waitUntil { Self.statuses(in: text).count >= count || isClosed }
        return Self.statuses(in: text)
    }

    /// The value of header `name` in the first response (case-insensitive name), if any.
    func firstHeader(_ name: String) -> String? {
        let head = text.components(separatedBy: "\r\n\r\n").first ?? ""
        for line in head.split(separator: "\r\n").dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    func close() {
        channel.close(promise: nil)
    }

    private static func statuses(in text: String) -> [Int] {
        text.components(separatedBy: "HTTP/1.1 ").dropFirst().compactMap { Int($0.prefix(3)) }
    }
}
