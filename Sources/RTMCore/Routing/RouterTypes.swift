/// A peer message on its way through the router.
package struct PeerMessage: Sendable {
    package var appID: AppID
    package var from: UserID
    package var to: UserID
    package var content: MessageContent

    package init(appID: AppID, from: UserID, to: UserID, content: MessageContent) {
        self.appID = appID
        self.from = from
        self.to = to
        self.content = content
    }
}

/// What happened to a peer message when it was handed to the router.
package enum PeerDispatch: Sendable, Equatable {
    /// The receiver is not logged in; nothing was delivered.
    case offline(messageID: String, serverTimestamp: Int64)
    /// Written to the receiver's connection queue.
    case handedOff(messageID: String, serverTimestamp: Int64)
    /// The receiver's connection refused it (closing or overflowing).
    case failed(messageID: String, serverTimestamp: Int64)

    package var messageID: String {
        switch self {
        case .offline(let id, _), .handedOff(let id, _), .failed(let id, _): id
        }
    }

    package var serverTimestamp: Int64 {
        switch self {
        case .offline(_, let ts), .handedOff(_, let ts), .failed(_, let ts): ts
        }
    }
}

/// Result of joining a channel.
package enum JoinOutcome: Sendable, Equatable {
    case joined(memberCount: Int)
    case alreadyJoined
    case exceedLimit
    case notLoggedIn
}

/// Result of leaving a channel.
package enum LeaveOutcome: Sendable, Equatable {
    case left
    case notInChannel
    case notLoggedIn
}

/// Limits the router enforces itself.
package struct RouterLimits: Sendable {
    /// Channels one session may be in at once (`agora-rtm-client.md` §3.1).
    package var maximumJoinedChannels = 20
    /// Above this many members, join/leave events stop and member counts slow down.
    package var memberEventThreshold = 512
    /// Pace of `member_count` updates at or below / above the threshold.
    package var memberCountInterval: Duration = .seconds(1)
    package var largeChannelMemberCountInterval: Duration = .seconds(3)
    /// Acknowledgement slots open at once on this node (sends with `wait_for_ack` or an SDK `send_peer`
    /// waiting for the receiver's ack). Past it a message is still delivered, but its sender's wait
    /// ends at once unconfirmed (REST 408, SDK SENT_TIMEOUT), counted in `rtm_ack_slots_full_total`.
    package var maximumPendingAcks = 100_000

    package init() {}
}
