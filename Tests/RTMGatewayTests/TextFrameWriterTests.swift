import NIOCore
import NIOEmbedded
import NIOWebSocket
@testable import RTMGateway
import Testing

/// The gateway frames its text frames itself (header written into room kept in front of the payload);
/// NIO's own decoder must read back exactly the payload, for every length encoding.
@Suite struct TextFrameWriterTests {
    static let lengths = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]

    func decode(_ bytes: ByteBuffer) throws -> WebSocketFrame? {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
        try channel.writeInbound(bytes)
        let frame = try channel.readInbound(as: WebSocketFrame.self)
        #expect(try channel.readInbound(as: WebSocketFrame.self) == nil)
        _ = try channel.finish()
        return frame
    }

    @Test(arguments: lengths)
    func headerWrittenIntoTheRoomInFront(length: Int) throws {
        let text = String(repeating: "é", count: length / 2) + String(repeating: "a", count: length % 2)
        let payload = TextFrameWriter.payloadBuffer(Array(text.utf8))
        let frame = TextFrameWriter.frame(payload)
        let headerSize = length < 126 ? 2 : (length <= 65_535 ? 4 : 10)
        #expect(frame.readableBytes == headerSize + length)
        let decoded = try #require(try decode(frame))
        #expect(decoded.fin && decoded.opcode == .text && decoded.maskKey == nil)
        #expect(String(buffer: decoded.data) == text)
    }

    @Test(arguments: lengths)
    func payloadWithoutRoomIsCopiedBehindAHeader(length: Int) throws {
        let payload = ByteBuffer(repeating: UInt8(ascii: "z"), count: length)
        let decoded = try #require(try decode(TextFrameWriter.frame(payload)))
        #expect(decoded.opcode == .text && decoded.data == payload)
    }

    /// A coalesced batch: every length encoding back to back in one buffer decodes to the same frames in order.
    @Test func appendedFramesDecodeInOrder() throws {
        var frames = ByteBuffer()
        let payloads = Self.lengths.map { ByteBuffer(repeating: UInt8(truncatingIfNeeded: $0), count: $0) }
        for payload in payloads { TextFrameWriter.appendFrame(payload, to: &frames) }
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
        try channel.writeInbound(frames)
        for payload in payloads {
            let frame = try #require(try channel.readInbound(as: WebSocketFrame.self))
            #expect(frame.fin && frame.opcode == .text && frame.data == payload)
        }
        #expect(try channel.readInbound(as: WebSocketFrame.self) == nil)
        _ = try channel.finish()
    }

    /// A session's frame is `{"seq":N,` then the shared body; `N` written in place for every width.
    @Test(arguments: [Int64(0), 7, 10, 99, 100, 1_234_567, Int64.max, -42])
    func sessionFramePrefix(seq: Int64) {
        let body = ByteBuffer(string: #""type":"x"}"#)
        let frame = GatewaySession.frame(seq: seq, body: body)
        #expect(String(buffer: frame) == #"{"seq":\#(seq),"type":"x"}"#)
        #expect(frame.readerIndex == TextFrameWriter.headerRoom)
    }
}
