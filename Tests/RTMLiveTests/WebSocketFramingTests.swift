import NIOCore
@testable import RTMGateway
import Testing

/// RFC 6455's rules for client frames, sent as raw bytes to a real server: each breach closes the
/// socket with 1002 (protocol error) or 1007 (text that is not UTF-8).
@Suite struct WebSocketFramingTests {
    static let login = #"{"op":"login","id":1,"app_id":"\#(TestServer.openAppID)","user_id":"framer"}"#

    /// What each breach is answered with.
    static let breaches: [(String, [UInt8], Int)] = [
        ("unmasked text frame", RawFrameSocket.frame(opcode: 0x1, Array(login.utf8), masked: false), 1002),
        ("RSV1 set", RawFrameSocket.frame(opcode: 0x1, Array(login.utf8), rsv: 0x40), 1002),
        ("RSV2 set", RawFrameSocket.frame(opcode: 0x1, Array(login.utf8), rsv: 0x20), 1002),
        ("RSV3 set on a ping", RawFrameSocket.frame(opcode: 0x9, [1, 2], rsv: 0x10), 1002),
        ("reserved data opcode 3", RawFrameSocket.frame(opcode: 0x3, Array(login.utf8)), 1002),
        ("reserved control opcode 11", RawFrameSocket.frame(opcode: 0xB, []), 1002),
        ("close code 999", RawFrameSocket.frame(opcode: 0x8, [0x03, 0xE7]), 1002),
        ("close code 1005 (reserved)", RawFrameSocket.frame(opcode: 0x8, [0x03, 0xED]), 1002),
        ("close code 1006 (reserved)", RawFrameSocket.frame(opcode: 0x8, [0x03, 0xEE]), 1002),
        ("close code 2000 (unassigned)", RawFrameSocket.frame(opcode: 0x8, [0x07, 0xD0]), 1002),
        ("close code 5000", RawFrameSocket.frame(opcode: 0x8, [0x13, 0x88]), 1002),
        ("one-byte close payload", RawFrameSocket.frame(opcode: 0x8, [0x03]), 1002),
        ("close reason not UTF-8", RawFrameSocket.frame(opcode: 0x8, [0x03, 0xE8, 0xFF]), 1007),
        ("text not UTF-8", RawFrameSocket.frame(opcode: 0x1, Array(#"{"op":"login","id":1,"app_id":""#.utf8) + [0xC3, 0x28]
            + Array(#"","user_id":"u"}"#.utf8)), 1007),
        ("fragmented text not UTF-8 once joined", RawFrameSocket.frame(opcode: 0x1, Array(#"{"x":""#.utf8) + [0xE2, 0x82], fin: false)
            + RawFrameSocket.frame(opcode: 0x0, [0x28] + Array(#""}"#.utf8)), 1007),
    ]

    @Test(arguments: 0..<breaches.count)
    func breachClosesWithItsCode(_ index: Int) async throws {
        let (name, bytes, expected) = Self.breaches[index]
        try await TestServer.with { server in
            let socket = try await RawFrameSocket.connect(port: server.port)
            try await socket.send(bytes)
            #expect(await socket.closeCode() == expected, "\(name)")
        }
    }

    /// The same server keeps valid frames: close codes a peer may send are echoed, UTF-8 text (an
    /// astral character split over two fragments included) is read.
    @Test func validFramesAreKept() async throws {
        try await TestServer.with { server in
            for code: UInt16 in [1000, 1001, 1003, 1011, 3000, 4999] {
                let socket = try await RawFrameSocket.connect(port: server.port)
                try await socket.send(RawFrameSocket.frame(opcode: 0x8, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array("bye é".utf8)))
                #expect(await socket.closeCode() == Int(code))
            }
            let socket = try await RawFrameSocket.connect(port: server.port)
            let text = Array(#"{"op":"login","id":1,"app_id":"\#(TestServer.openAppID)","user_id":"u-é-😀"}"#.utf8)
            let split = text.firstIndex(of: 0xF0)! + 2   // inside the 4-byte emoji
            try await socket.send(RawFrameSocket.frame(opcode: 0x1, Array(text[..<split]), fin: false)
                + RawFrameSocket.frame(opcode: 0x0, Array(text[split...])))
            #expect(await socket.receivedReply())
        }
    }

    @Test func closeCodesAPeerMaySend() {
        let valid = (0...UInt16.max).filter(FrameRules.isValidReceivedCloseCode)
        #expect(valid == Array(1000...1003) + Array(1007...1014) + Array(3000...4999))
    }

    @Test func closePayloads() {
        #expect(FrameRules.violation(ofClosePayload: ByteBuffer()) == nil)
        #expect(FrameRules.violation(ofClosePayload: ByteBuffer(bytes: [0x03, 0xE8])) == nil)
        #expect(FrameRules.violation(ofClosePayload: ByteBuffer(bytes: [0x03]))?.code == 1002)
        #expect(FrameRules.violation(ofClosePayload: ByteBuffer(bytes: [0x03, 0xE8, 0xC3]))?.code == 1007)
        #expect(FrameRules.violation(ofClosePayload: ByteBuffer(bytes: [0x03, 0xE8] + Array("é".utf8))) == nil)
    }

    @Test func utf8() {
        #expect(FrameRules.isValidUTF8(ByteBuffer(string: "plain ascii")))
        #expect(FrameRules.isValidUTF8(ByteBuffer(string: "é 😀 \u{0000}")))
        #expect(!FrameRules.isValidUTF8(ByteBuffer(bytes: [0xC3, 0x28])))
        #expect(!FrameRules.isValidUTF8(ByteBuffer(bytes: [0xED, 0xA0, 0x80])))   // a UTF-16 surrogate
        #expect(!FrameRules.isValidUTF8(ByteBuffer(bytes: [0xF4, 0x90, 0x80, 0x80])))   // past U+10FFFF
        #expect(!FrameRules.isValidUTF8(ByteBuffer(bytes: [0xC0, 0x80])))   // overlong
    }
}
