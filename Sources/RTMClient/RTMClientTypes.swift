import Foundation
import RTMProtocol

/// Waits; injectable so reconnect and retry delays can be driven by tests.
public protocol RTMSleeper: Sendable {
    func sleep(for duration: Duration) async throws
}

/// Sleeps with `Task.sleep`.
public struct TaskSleeper: RTMSleeper {
    public init() {}
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// Settings of ``RTMClient``.
public struct RTMClientConfiguration: Sendable {
    /// Connection timings (login timeout, interruption, resume window, reconnect backoff).
    public var timings = ConnectionStateMachine.Timings()
    /// How timers wait.
    public var sleeper: any RTMSleeper = TaskSleeper()

    public init() {}
}

/// Options of ``RTMClient/sendMessage(_:toPeer:options:)``.
public struct SendMessageOptions: Sendable, Equatable {
    /// Store the message if the peer is offline and deliver it at its next login (deprecated in RTM 1.5).
    public var enableOfflineMessaging = false
    /// Save the message for the history API (deprecated in RTM 1.5).
    public var enableHistoricalMessaging = false

    public init(enableOfflineMessaging: Bool = false, enableHistoricalMessaging: Bool = false) {
        self.enableOfflineMessaging = enableOfflineMessaging
        self.enableHistoricalMessaging = enableHistoricalMessaging
    }
}

/// A message to send: text, or raw bytes with an optional description (at most 32 KB together).
public enum RTMMessage: Sendable, Equatable, ExpressibleByStringLiteral {
    case text(String)
    case raw(Data, description: String? = nil)

    public init(stringLiteral value: String) { self = .text(value) }

    var payload: MessagePayload {
        switch self {
        case .text(let text): .text(text)
        case .raw(let data, let description): .raw(base64: data.base64EncodedString(), description: description)
        }
    }
}

/// The outcome of a peer send: `code` is `PEER_MESSAGE_ERR_*` (`.ok` means the receiver acknowledged it).
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
    /// Milliseconds since the epoch when the server received it.
    public var serverTimestamp: Int64
    /// `true` when it was stored while this user was offline.
    public var isOffline: Bool

    /// The text, for text messages.
    public var text: String? { if case .text(let text) = payload { text } else { nil } }
}

/// `PEER_ONLINE_STATE`.
public enum PeerOnlineState: Int, Sendable, Equatable {
    case online = 0, unreachable = 1, offline = 2
}

/// A key/value attribute.
public typealias RTMAttribute = AttributePair
