/// A peer message on its way through the router.
public struct PeerMessage: Sendable {
    public var appID: AppID
    public var from: UserID
    public var to: UserID
    public var content: MessageContent

    public init(appID: AppID, from: UserID, to: UserID, content: MessageContent) {
        self.appID = appID
        self.from = from
        self.to = to
        self.content = content
    }
}

/// What happened to a peer message when it was handed to the router.
public enum PeerDispatch: Sendable, Equatable {
    /// The receiver is not logged in; nothing was delivered.
    case offline(messageID: String, serverTimestamp: Int64)
    /// Written to the receiver's connection queue.
    case handedOff(messageID: String, serverTimestamp: Int64)
    /// The receiver's connection refused it (closing or overflowing).
    case failed(messageID: String, serverTimestamp: Int64)

    public var messageID: String {
        switch self {
        case .offline(let id, _), .handedOff(let id, _), .failed(let id, _): id
        }
    }

    public var serverTimestamp: Int64 {
        switch self {
        case .offline(_, let ts), .handedOff(_, let ts), .failed(_, let ts): ts
        }
    }
}

/// Result of joining a channel.
public enum JoinOutcome: Sendable, Equatable {
    case joined(memberCount: Int)
    case alreadyJoined
    case exceedLimit
    case notLoggedIn
}

/// Result of leaving a channel.
public enum LeaveOutcome: Sendable, Equatable {
    case left
    case notInChannel
    case notLoggedIn
}

/// Limits the router enforces itself.
public struct RouterLimits: Sendable {
    /// Channels one session may be in at once (`agora-rtm-client.md` §3.1).
    public var maximumJoinedChannels = 20
    /// Above this many members, join/leave events stop and member counts slow down.
    public var memberEventThreshold = 512
    /// Pace of `member_count` updates at or below / above the threshold.
    public var memberCountInterval: Duration = .seconds(1)
    public var largeChannelMemberCountInterval: Duration = .seconds(3)
    /// Acknowledgement slots open at once on this node (sends with `wait_for_ack` or an SDK `send_peer`
    /// waiting for the receiver's ack). Past it a message is still delivered, but its sender's wait
    /// ends at once unconfirmed (REST 408, SDK SENT_TIMEOUT), counted in `rtm_ack_slots_full_total`.
    public var maximumPendingAcks = 100_000

    public init() {}
}
