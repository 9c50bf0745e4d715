import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOWebSocket
import RTMCore
@testable import RTMGateway
import RTMProtocol
import Testing

/// The socket's last handler on a test channel (no network): NIO's frame encoder and the
/// ``GatewayFrameHandler`` of a real gateway (an in-process router on memory stores). Client frames go
/// in as NIO's decoder hands them over; what the server writes comes out as bytes and is decoded back.
@Suite struct GatewayFrameHandlerTests {
    /// A gateway socket on an `NIOAsyncTestingChannel`.
    final class Socket: Sendable {
        let channel = NIOAsyncTestingChannel()
        private let decoder = NIOLockedValueBox(EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20))))

        init() async throws {
            let router = Router(clock: SystemClock(), encoder: GatewayEventEncoder())
            let stores = StoreBundle.inMemory()
            let gateway = Gateway(messages: MessageService(broker: router, stores: stores),
                                  apps: AppDirectory(registry: stores.apps, clock: SystemClock()))
            let channel = self.channel
            try await channel.testingEventLoop.executeInContext {
                let pipeline = channel.pipeline.syncOperations
                try pipeline.addHandler(WebSocketFrameEncoder())
                try pipeline.addHandler(gateway.makeFrameHandler(logger: Logger(label: "rtm.test.gateway")))
            }
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).get()
        }

        /// Sends a client frame (masked unless `masked` is false).
        func send(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true, masked: Bool = true) async throws {
            var data = ByteBuffer(bytes: bytes)
            let key = WebSocketMaskingKey([1, 2, 3, 4])!
            if masked { data.webSocketMask(key) }
            try await channel.writeInbound(WebSocketFrame(fin: fin, opcode: opcode, maskKey: masked ? key : nil, data: data))
        }

        func sendText(_ text: String, fin: Bool = true) async throws { try await send(.text, Array(text.utf8), fin: fin) }

        /// The next frame the server wrote, waiting for it for at most 5 s (bounded polling).
        func nextFrame() async throws -> WebSocketFrame? {
            for _ in 0..<500 {
                await channel.testingEventLoop.run()   // the tasks the handler gave its loop (the drains)
                if let frame = try decoder.withLockedValue({ try $0.readInbound(as: WebSocketFrame.self) }) { return frame }
                if let bytes = try await channel.readOutbound(as: ByteBuffer.self) {
                    try decoder.withLockedValue { _ = try $0.writeInbound(bytes) }
                    continue
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            return nil
        }

        /// The next text frame's JSON object.
        func nextJSON() async throws -> [String: Any]? {
            guard let frame = try await nextFrame(), frame.opcode == .text else { return nil }
            return try JSONSerialization.jsonObject(with: Data(frame.data.readableBytesView)) as? [String: Any]
        }

        /// Whether the socket gets closed within 5 s (the test loop's timers are moved along meanwhile).
        func closes() async -> Bool {
            let channel = self.channel
            for _ in 0..<500 {
                await channel.testingEventLoop.advanceTime(by: .milliseconds(10))
                if !(try! await channel.testingEventLoop.executeInContext { channel.isActive }) { return true }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return false
        }

        func end() async {
            try? await channel.close()
            _ = try? decoder.withLockedValue { try $0.finish() }
        }
    }

    static func closeCode(_ frame: WebSocketFrame?) -> UInt16? {
        guard let frame, frame.opcode == .connectionClose else { return nil }
        return frame.data.getInteger(at: frame.data.readerIndex, as: UInt16.self)
    }

    @Test func aRequestBeforeLoginIsAnswered102() async throws {
        let socket = try await Socket()
        try await socket.sendText(#"{"id":7,"op":"join","channel":"room"}"#)
        let reply = try #require(try await socket.nextJSON())
        #expect(reply["reply"] as? Int == 7 && reply["code"] as? Int == 102, "\(reply)")
        await socket.end()
    }

    @Test func aFragmentedRequestIsJoinedAndAnswered() async throws {
        let socket = try await Socket()
        try await socket.sendText(#"{"id":8,"op":"#, fin: false)
        try await socket.send(.ping, [5])   // a control frame between fragments
        try await socket.send(.continuation, Array(#""join","channel":"room"}"#.utf8))
        let pong = try #require(try await socket.nextFrame())
        #expect(pong.opcode == .pong && pong.data == ByteBuffer(bytes: [5]))
        let reply = try #require(try await socket.nextJSON())
        #expect(reply["reply"] as? Int == 8 && reply["code"] as? Int == 102)
        await socket.end()
    }

    @Test func aBinaryFrameClosesWith1003AfterTheRequestsBeforeIt() async throws {
        let socket = try await Socket()
        try await socket.sendText(#"{"id":1,"op":"join","channel":"room"}"#)
        try await socket.send(.binary, [1, 2, 3])
        let reply = try #require(try await socket.nextJSON())
        #expect(reply["reply"] as? Int == 1)
        #expect(Self.closeCode(try await socket.nextFrame()) == RTMCloseCode.unsupportedData)
        await socket.end()
    }

    @Test func anUnmaskedFrameFailsWith1002AndTheSocketCloses() async throws {
        let socket = try await Socket()
        try await socket.send(.text, Array(#"{"id":1,"op":"logout"}"#.utf8), masked: false)
        #expect(Self.closeCode(try await socket.nextFrame()) == RTMCloseCode.protocolError)
        #expect(await socket.closes())
        await socket.end()
    }

    @Test func textThatIsNotUTF8FailsWith1007() async throws {
        let socket = try await Socket()
        try await socket.send(.text, [0x7B, 0xFF, 0x7D])
        #expect(Self.closeCode(try await socket.nextFrame()) == RTMCloseCode.invalidPayload)
        #expect(await socket.closes())
        await socket.end()
    }

    @Test func thePeersCloseIsEchoedAndTheSocketCloses() async throws {
        let socket = try await Socket()
        try await socket.send(.connectionClose, [0x03, 0xE8] + Array("bye".utf8))
        #expect(Self.closeCode(try await socket.nextFrame()) == RTMCloseCode.normal)
        #expect(await socket.closes())
        await socket.end()
    }

    @Test func aPingTickWithoutAPongClosesTheLink() async throws {
        let socket = try await Socket()
        let channel = socket.channel
        let tick = { @Sendable in
            try await channel.testingEventLoop.executeInContext {
                let handler = try channel.pipeline.syncOperations.handler(type: GatewayFrameHandler.self)
                return handler.pingTick()
            }
        }
        #expect(try await tick() == false)
        let ping = try #require(try await socket.nextFrame())
        #expect(ping.opcode == .ping && ping.data.readableBytes == 8)
        try await socket.send(.pong, Array(ping.data.readableBytesView))
        #expect(try await tick() == false, "answered: a new ping")
        #expect(try await socket.nextFrame()?.opcode == .ping)
        #expect(try await tick() == true, "not answered within an interval: closed")
        #expect(await socket.closes())
        await socket.end()
    }
}
