import NIOCore
import NIOWebSocket
import RTMProtocol
@testable import RTMGateway
import Testing

/// The socket's WebSocket rules as a value, without a socket: fragments, pings, the closing handshake
/// and the frames that fail the connection.
@Suite struct FrameStateMachineTests {
    static let maskKey = WebSocketMaskingKey([0x11, 0x22, 0x33, 0x44])!

    /// A client frame: masked unless `masked` is false.
    static func frame(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true, masked: Bool = true,
                      rsv1: Bool = false) -> WebSocketFrame {
        var data = ByteBuffer(bytes: bytes)
        if masked { data.webSocketMask(maskKey) }
        return WebSocketFrame(fin: fin, rsv1: rsv1, opcode: opcode, maskKey: masked ? maskKey : nil, data: data)
    }

    static func text(_ string: String, fin: Bool = true) -> WebSocketFrame { frame(.text, Array(string.utf8), fin: fin) }
    static func continuation(_ string: String, fin: Bool) -> WebSocketFrame { frame(.continuation, Array(string.utf8), fin: fin) }
    static func close(_ code: UInt16?, reason: String = "") -> WebSocketFrame {
        var bytes: [UInt8] = []
        if let code { bytes = [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8) }
        return frame(.connectionClose, bytes)
    }

    /// The machine under test behind a reference, so that `#expect` can hold its mutating calls.
    final class Machine {
        var state: FrameStateMachine
        init(_ maximumMessageBytes: Int) { state = FrameStateMachine(maximumMessageBytes: maximumMessageBytes) }
        func received(_ frame: WebSocketFrame) -> FrameStateMachine.Action { state.received(frame) }
        func decoderFailed(_ error: NIOWebSocketError) -> FrameStateMachine.Action { state.decoderFailed(error) }
        func startClosing() -> Bool { state.startClosing() }
        func pingTick(payload: ByteBuffer) -> FrameStateMachine.PingAction { state.pingTick(payload: payload) }
        var failed: Bool { state.failed }
        var closeSent: Bool { state.closeSent }
        var expectedPong: ByteBuffer? { state.expectedPong }
    }

    func machine(maximumMessageBytes: Int = 1_024) -> Machine { Machine(maximumMessageBytes) }

    @Test func aWholeTextMessageIsDelivered() {
        let state = machine()
        #expect(state.received(Self.text("héllo")) == .deliver(ByteBuffer(string: "héllo")))
    }

    @Test func fragmentsAreJoinedIntoOneMessage() {
        let state = machine()
        #expect(state.received(Self.text("one ", fin: false)) == .none)
        #expect(state.received(Self.continuation("two ", fin: false)) == .none)
        // A control frame may come between fragments (RFC 6455 §5.4).
        #expect(state.received(Self.frame(.ping, [1, 2])) == .answerPing(ByteBuffer(bytes: [1, 2])))
        #expect(state.received(Self.continuation("three", fin: true)) == .deliver(ByteBuffer(string: "one two three")))
        #expect(state.received(Self.text("next")) == .deliver(ByteBuffer(string: "next")))
    }

    @Test func binaryMessagesAreRefusedWholeOrFragmented() {
        let whole = machine()
        #expect(whole.received(Self.frame(.binary, [1, 2, 3])) == .refuseBinary)
        let fragmented = machine()
        #expect(fragmented.received(Self.frame(.binary, [1], fin: false)) == .none)
        #expect(fragmented.received(Self.frame(.continuation, [2], fin: true)) == .refuseBinary)
    }

    @Test func textThatIsNotUTF8FailsWith1007AndNothingAfterIsLookedAt() {
        let state = machine()
        #expect(state.received(Self.frame(.text, [0x61, 0xC3])) == .fail(code: RTMCloseCode.invalidPayload, reason: "text is not valid UTF-8"))
        #expect(state.failed)
        #expect(state.received(Self.text("later")) == .none)
        #expect(state.received(Self.frame(.ping, [])) == .none)
    }

    @Test(arguments: [
        (FrameStateMachineTests.frame(.text, [0x61], masked: false), "unmasked client frame"),
        (FrameStateMachineTests.frame(.text, [0x61], rsv1: true), "RSV bit set"),
        (FrameStateMachineTests.frame(WebSocketOpcode(encodedWebSocketOpcode: 0x3)!, []), "reserved opcode"),
        (FrameStateMachineTests.continuation("x", fin: true), "a continuation without a message"),
    ])
    func framesBreakingRFC6455FailWith1002(frame: WebSocketFrame, reason: String) {
        let state = machine()
        #expect(state.received(frame) == .fail(code: RTMCloseCode.protocolError, reason: reason))
    }

    @Test func aNewMessageInsideAFragmentedOneFailsWith1002() {
        let state = machine()
        _ = state.received(Self.text("a", fin: false))
        #expect(state.received(Self.text("b")) == .fail(code: RTMCloseCode.protocolError, reason: "a new message inside a fragmented one"))
    }

    @Test func joinedFragmentsOverTheBoundFailWith1009() {
        let state = machine(maximumMessageBytes: 10)
        _ = state.received(Self.text("123456", fin: false))
        #expect(state.received(Self.continuation("12345", fin: true)) == .fail(code: RTMCloseCode.messageTooBig, reason: "message too big"))
    }

    @Test func moreFragmentsThanAllowedFailWith1009() {
        let state = machine()
        _ = state.received(Self.text("", fin: false))
        for _ in 1..<FrameStateMachine.maximumFragments {
            #expect(state.received(Self.continuation("", fin: false)) == .none)
        }
        #expect(state.received(Self.continuation("", fin: false)) == .fail(code: RTMCloseCode.messageTooBig, reason: "too many fragments"))
    }

    @Test func theDecodersErrorsFailTheConnection() {
        let tooLong = machine()
        #expect(tooLong.decoderFailed(.invalidFrameLength) == .fail(code: RTMCloseCode.messageTooBig, reason: "\(NIOWebSocketError.invalidFrameLength)"))
        let fragmentedControl = machine()
        #expect(fragmentedControl.decoderFailed(.fragmentedControlFrame)
            == .fail(code: RTMCloseCode.protocolError, reason: "\(NIOWebSocketError.fragmentedControlFrame)"))
        #expect(fragmentedControl.decoderFailed(.invalidFrameLength) == .none)
    }

    @Test func onlyThePongEchoingThePingAnswersIt() {
        let state = machine()
        let payload = ByteBuffer(bytes: [9, 9, 9, 9])
        #expect(state.pingTick(payload: payload) == .ping(payload))
        #expect(state.received(Self.frame(.pong, [1, 2, 3, 4])) == .none)
        #expect(state.expectedPong == payload)
        #expect(state.received(Self.frame(.pong, [9, 9, 9, 9])) == .none)
        #expect(state.expectedPong == nil)
        let next = ByteBuffer(bytes: [7])
        #expect(state.pingTick(payload: next) == .ping(next))
        #expect(state.pingTick(payload: ByteBuffer(bytes: [8])) == .closeDeadLink)
    }

    @Test func thePeersCloseIsEchoedOnce() {
        let state = machine()
        #expect(state.received(Self.close(1000, reason: "bye")) == .answerClose(code: 1000))
        #expect(state.closeSent)
        #expect(!state.startClosing())
    }

    @Test func anEmptyCloseIsAnsweredWithAnEmptyClose() {
        let state = machine()
        #expect(state.received(Self.close(nil)) == .answerClose(code: nil))
    }

    @Test func thePeersAnswerToOurCloseClosesTheSocket() {
        let state = machine()
        #expect(state.startClosing())
        #expect(!state.startClosing())
        #expect(state.received(Self.close(1001)) == .closeSocket)
    }

    @Test(arguments: [
        (FrameStateMachineTests.close(1005), RTMCloseCode.protocolError, "invalid close code 1005"),
        (FrameStateMachineTests.close(2999), RTMCloseCode.protocolError, "invalid close code 2999"),
        (FrameStateMachineTests.frame(.connectionClose, [0x03]), RTMCloseCode.protocolError, "close payload of one byte"),
        (FrameStateMachineTests.frame(.connectionClose, [0x03, 0xE8, 0xFF]), RTMCloseCode.invalidPayload, "close reason is not valid UTF-8"),
    ])
    func invalidClosePayloadsFailTheConnection(frame: WebSocketFrame, code: UInt16, reason: String) {
        let state = machine()
        #expect(state.received(frame) == .fail(code: code, reason: reason))
    }
}
