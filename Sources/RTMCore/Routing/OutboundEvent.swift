import NIOCore

/// An event the router sends to a logged-in session, before encoding.
package enum OutboundEvent: Sendable, Equatable {
    case peerMessage(messageID: String, from: UserID, content: MessageContent, serverTimestamp: Int64, offline: Bool)
    case channelMessage(channel: ChannelName, from: UserID, messageID: String, content: MessageContent, serverTimestamp: Int64)
    case memberJoined(channel: ChannelName, user: UserID)
    case memberLeft(channel: ChannelName, user: UserID)
    case memberCount(channel: ChannelName, count: Int)
    case connectionState(state: Int, reason: Int)
    case tokenPrivilegeWillExpire
    /// Presence changes for subscribers: 0 ONLINE, 1 UNREACHABLE, 2 OFFLINE, in the given order.
    case peersOnlineStatus([(UserID, PeerOnlineState)])
    /// The channel's complete attribute set, after a write with `notify`.
    case channelAttributesUpdated(channel: ChannelName, attributes: [ChannelAttribute])

    package static func == (lhs: OutboundEvent, rhs: OutboundEvent) -> Bool {
        switch (lhs, rhs) {
        case let (.peersOnlineStatus(a), .peersOnlineStatus(b)):
            return a.map(\.0) == b.map(\.0) && a.map(\.1) == b.map(\.1)
        case let (.peerMessage(a1, a2, a3, a4, a5), .peerMessage(b1, b2, b3, b4, b5)):
            return a1 == b1 && a2 == b2 && a3 == b3 && a4 == b4 && a5 == b5
        case let (.channelMessage(a1, a2, a3, a4, a5), .channelMessage(b1, b2, b3, b4, b5)):
            return a1 == b1 && a2 == b2 && a3 == b3 && a4 == b4 && a5 == b5
        case let (.memberJoined(a1, a2), .memberJoined(b1, b2)), let (.memberLeft(a1, a2), .memberLeft(b1, b2)):
            return a1 == b1 && a2 == b2
        case let (.memberCount(a1, a2), .memberCount(b1, b2)): return a1 == b1 && a2 == b2
        case let (.connectionState(a1, a2), .connectionState(b1, b2)): return a1 == b1 && a2 == b2
        case (.tokenPrivilegeWillExpire, .tokenPrivilegeWillExpire): return true
        case let (.channelAttributesUpdated(a1, a2), .channelAttributesUpdated(b1, b2)): return a1 == b1 && a2 == b2
        default: return false
        }
    }
}

/// `PEER_ONLINE_STATE`.
package enum PeerOnlineState: Int, Sendable, Equatable {
    case online = 0, unreachable = 1, offline = 2
}

/// What kind of event a queued body is, so a session can keep what it must replay after a reconnect.
package enum EventKind: Sendable, Equatable {
    /// Kept until the client acks it. `offlineCopy` is the message as the offline store keeps it, when
    /// its sender asked for offline messaging and it is not stored yet: if the session must give up
    /// the message before the ack (its replay buffer passed its bound), the copy is stored.
    case peerMessage(messageID: String, offlineCopy: StoredPeerMessage? = nil)
    /// Kept in a short per-channel ring (the last 32 from the last 30 s).
    case channelMessage(ChannelName, serverTimestamp: Int64)
    /// Not replayed.
    case other
}

/// Turns events into wire bytes. The router calls it **once** per event and shares the result
/// among every receiver.
///
/// Contract: the returned buffer is a JSON object's members and closing brace **without** the
/// opening `{` (for example `"event":"member_left","channel":"c","user_id":"u"}`), so each
/// session can put its own `{"seq":N,` in front without re-encoding.
package protocol EventEncoder: Sendable {
    func encodeBody(_ event: OutboundEvent) -> ByteBuffer
}

/// Why the router ends a session on its own.
package enum SessionTermination: Sendable, Equatable {
    /// The same user logged in elsewhere (ABORTED / REMOTE_LOGIN, close 4008).
    case remoteLogin
    /// The token expired while connected (ABORTED / TOKEN_EXPIRED, close 4009).
    case tokenExpired
    /// The server is shutting down (RECONNECTING / INTERRUPTED, close 1001).
    case serverShutdown
    /// The session's client resumed it on another node of the cluster, which holds it now (no
    /// event; close 1000, as after a resume on another socket).
    case resumedElsewhere
}

extension SessionSink {
    package func expired() {}
}

/// The transport side of one logged-in session (one WebSocket). Implementations must not block.
package protocol SessionSink: AnyObject, Sendable {
    /// Queues an event body (see ``EventEncoder``), stamping it with the session's next `seq`.
    /// - Returns: `false` if the session has ended or its connection refused the frame.
    func enqueueEvent(_ body: ByteBuffer, kind: EventKind) -> Bool
    /// The session stayed disconnected for the whole grace period and was removed from the router.
    func expired()
    /// Ends the connection for `reason` after telling the client why.
    func terminate(_ reason: SessionTermination)
}
