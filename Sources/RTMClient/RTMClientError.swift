import RTMProtocol

/// Failures of ``RTMClient`` calls. Op failures carry the server's code, whose raw values are Agora's.
public enum RTMClientError: Error, Sendable, Equatable {
    /// The socket could not be opened or closed before the reply came.
    case disconnected
    /// `login` was refused with this `LOGIN_ERR_*` code.
    case login(LoginErrorCode)
    /// A request was refused; `op` names it and `code` is that op's error value.
    case request(op: String, code: Int)
    /// The client is not logged in.
    case notLoggedIn
}

/// The outcome of ``RTMClient/sendMessage(_:toPeer:)``: `code` is `PEER_MESSAGE_ERR_*`
/// (`.ok` means the receiver acknowledged it).
public struct PeerSendResult: Sendable, Equatable {
    public var code: PeerMessageErrorCode
    public var messageID: String?
    public var serverTimestamp: Int64?
}

/// What a successful login returns.
public struct LoginInfo: Sendable, Equatable {
    public var sessionID: String
    public var serverTimestamp: Int64
    /// Unix seconds when the token expires, if it does.
    public var tokenExpiresAt: Int64?
}

/// A peer message as the receiver sees it.
public struct ReceivedPeerMessage: Sendable, Equatable {
    public var messageID: String
    public var from: String
    public var payload: MessagePayload
    public var serverTimestamp: Int64
    public var isOffline: Bool

    /// The text, for text messages.
    public var text: String? { if case .text(let text) = payload { text } else { nil } }
}
