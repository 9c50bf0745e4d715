import NIOCore
import NIOWebSocket
import RTMProtocol

/// What RFC 6455 requires of a client's frames beyond what NIO's decoder checks (lengths, control
/// frames that are fragmented or longer than 125 bytes): a frame that breaks a rule fails the
/// connection with the close code given here.
enum FrameRules {
    struct Violation: Equatable {
        var code: UInt16
        var reason: String
    }

    /// The rule `frame` breaks, if any: it must be masked (§5.1), have no RSV bit set (no extension is
    /// negotiated, §5.2) and use a defined opcode (§5.2, §11.8).
    static func violation(of frame: WebSocketFrame) -> Violation? {
        if frame.maskKey == nil { return Violation(code: RTMCloseCode.protocolError, reason: "unmasked client frame") }
        if frame.rsv1 || frame.rsv2 || frame.rsv3 { return Violation(code: RTMCloseCode.protocolError, reason: "RSV bit set") }
        switch frame.opcode {
        case .continuation, .text, .binary, .connectionClose, .ping, .pong: return nil
        default: return Violation(code: RTMCloseCode.protocolError, reason: "reserved opcode")
        }
    }

    /// The rule a close frame's (unmasked) payload breaks, if any: empty, or a valid status code
    /// (§7.4) followed by a UTF-8 reason (§5.5.1). A one-byte payload cannot hold a code.
    static func violation(ofClosePayload payload: ByteBuffer) -> Violation? {
        guard payload.readableBytes > 0 else { return nil }
        guard let code = payload.getInteger(at: payload.readerIndex, as: UInt16.self) else {
            return Violation(code: RTMCloseCode.protocolError, reason: "close payload of one byte")
        }
        guard isValidReceivedCloseCode(code) else { return Violation(code: RTMCloseCode.protocolError, reason: "invalid close code \(code)") }
        guard isValidUTF8(payload.getSlice(at: payload.readerIndex + 2, length: payload.readableBytes - 2)!) else {
            return Violation(code: RTMCloseCode.invalidPayload, reason: "close reason is not valid UTF-8")
        }
        return nil
    }

    /// Codes a peer may send (§7.4.1, §7.4.2, and IANA's registry): 1000–1003, 1007–1014, 3000–4999.
    /// 1004–1006 and 1015 are reserved for reporting and never sent; the rest are unassigned.
    static func isValidReceivedCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    /// Whether `buffer`'s readable bytes are valid UTF-8 (ASCII is checked without decoding).
    static func isValidUTF8(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { raw in
            let bytes = raw.assumingMemoryBound(to: UInt8.self)
            guard bytes.contains(where: { $0 >= 0x80 }) else { return true }
            return String(validating: bytes, as: UTF8.self) != nil
        }
    }
}
