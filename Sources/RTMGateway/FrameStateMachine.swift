import NIOCore
import NIOWebSocket
import RTMProtocol

/// A socket's WebSocket state as a value: fragments being joined, the ping awaiting its pong and the
/// closing handshake. It decides what each frame and each ping tick calls for; the
/// ``GatewayFrameHandler`` does the I/O. Frames that break RFC 6455 (``FrameRules``) fail the
/// connection with 1002, text that is not UTF-8 with 1007, a message over the size or fragment bound
/// with 1009; after a failure nothing the peer sends is looked at.
struct FrameStateMachine {
    /// Frames one message may be split into.
    static let maximumFragments = 256

    /// Bytes a message may have once its fragments are joined (``GatewayConfiguration/maximumFrameBytes``).
    let maximumMessageBytes: Int
    /// The payload of the ping that went out and has not been answered (the next tick closes the
    /// link). Only a pong echoing it answers: a client that sends but never reads cannot keep a dead
    /// link open with pings, pongs or requests of its own.
    private(set) var expectedPong: ByteBuffer?
    /// A close frame went out (ours, or the answer to the peer's).
    private(set) var closeSent = false
    /// A framing error failed the connection: nothing more the peer sends is looked at.
    private(set) var failed = false
    /// A fragmented message being put together (rare: clients send small whole frames).
    private var fragments: Fragments?

    private struct Fragments {
        var isText: Bool
        var data: ByteBuffer
        var count: Int
    }

    init(maximumMessageBytes: Int) {
        self.maximumMessageBytes = maximumMessageBytes
    }

    /// What a frame calls for.
    enum Action: Equatable {
        case none
        /// A whole text message, valid UTF-8: to the connection's inbox.
        case deliver(ByteBuffer)
        /// A whole binary message: the connection refuses it with 1003 after the requests before it.
        case refuseBinary
        /// The connection fails: send a close frame with `code` and close the socket.
        case fail(code: UInt16, reason: String)
        /// Answer a ping with a pong carrying `payload`.
        case answerPing(ByteBuffer)
        /// The peer started the closing handshake: answer with a close frame echoing `code` (none if
        /// the peer gave none), then close the socket.
        case answerClose(code: UInt16?)
        /// The peer answered our close frame: close the socket.
        case closeSocket
    }

    /// What `frame` (from NIO's decoder, masked or not) calls for.
    mutating func received(_ frame: WebSocketFrame) -> Action {
        guard !failed else { return .none }
        if let violation = FrameRules.violation(of: frame) { return fail(violation.code, violation.reason) }
        switch frame.opcode {
        case .text, .binary:
            guard fragments == nil else { return fail(RTMCloseCode.protocolError, "a new message inside a fragmented one") }
            guard frame.fin else {
                fragments = Fragments(isText: frame.opcode == .text, data: frame.unmaskedData, count: 1)
                return .none
            }
            return whole(frame.unmaskedData, isText: frame.opcode == .text)
        case .continuation:
            guard var message = fragments else { return fail(RTMCloseCode.protocolError, "a continuation without a message") }
            fragments = nil
            message.count += 1
            var data = frame.unmaskedData
            guard message.data.readableBytes + data.readableBytes <= maximumMessageBytes else {
                return fail(RTMCloseCode.messageTooBig, "message too big")
            }
            guard message.count <= Self.maximumFragments else { return fail(RTMCloseCode.messageTooBig, "too many fragments") }
            message.data.writeBuffer(&data)
            guard frame.fin else {
                fragments = message
                return .none
            }
            return whole(message.data, isText: message.isText)
        case .ping:
            return .answerPing(frame.unmaskedData)
        case .pong:
            if let expectedPong, frame.unmaskedData == expectedPong { self.expectedPong = nil }
            return .none
        case .connectionClose:
            let payload = frame.unmaskedData
            if let violation = FrameRules.violation(ofClosePayload: payload) { return fail(violation.code, violation.reason) }
            guard !closeSent else { return .closeSocket }
            closeSent = true
            return .answerClose(code: payload.getInteger(at: payload.readerIndex, as: UInt16.self))
        default:
            return .none   // FrameRules refused the reserved opcodes
        }
    }

    private mutating func whole(_ data: ByteBuffer, isText: Bool) -> Action {
        guard isText else { return .refuseBinary }
        guard FrameRules.isValidUTF8(data) else { return fail(RTMCloseCode.invalidPayload, "text is not valid UTF-8") }
        return .deliver(data)
    }

    /// NIO's frame decoder failed (a frame over the size limit, a malformed frame): it reads nothing
    /// more, so the connection fails.
    mutating func decoderFailed(_ error: NIOWebSocketError) -> Action {
        guard !failed else { return .none }
        return fail(error == .invalidFrameLength ? RTMCloseCode.messageTooBig : RTMCloseCode.protocolError, "\(error)")
    }

    private mutating func fail(_ code: UInt16, _ reason: String) -> Action {
        fragments = nil
        failed = true
        return .fail(code: code, reason: reason)
    }

    /// We start the closing handshake: whether our close frame should go out (only one ever does).
    mutating func startClosing() -> Bool {
        guard !closeSent else { return false }
        closeSent = true
        return true
    }

    /// What a tick of the ping interval calls for.
    enum PingAction: Equatable {
        /// The last ping went unanswered for a whole interval: the link is dead.
        case closeDeadLink
        /// Send a ping with `payload`.
        case ping(ByteBuffer)
    }

    /// A tick of the ping interval; `payload` is the fresh payload a new ping would carry.
    mutating func pingTick(payload: ByteBuffer) -> PingAction {
        guard expectedPong == nil else { return .closeDeadLink }
        expectedPong = payload
        return .ping(payload)
    }
}
