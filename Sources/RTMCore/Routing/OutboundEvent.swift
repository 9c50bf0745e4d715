import NIOCore

/// An event the router sends to a logged-in session, before encoding.
public enum OutboundEvent: Sendable, Equatable {
    case peerMessage(messageID: String, from: UserID, content: MessageContent, serverTimestamp: Int64, offline: Bool)
    case channelMessage(channel: ChannelName, from: UserID, messageID: String, content: MessageContent, serverTimestamp: Int64)
    case memberJoined(channel: ChannelName, user: UserID)
    case memberLeft(channel: ChannelName, user: UserID)
    case memberCount(channel: ChannelName, count: Int)
    case connectionState(state: Int, reason: Int)
    case tokenPrivilegeWillExpire
}

/// Turns events into wire bytes. The router calls it **once** per event and shares the result
/// among every receiver.
///
/// Contract: the returned buffer is a JSON object's members and closing brace **without** the
/// opening `{` (for example `"event":"member_left","channel":"c","user_id":"u"}`), so each
/// session can put its own `{"seq":N,` in front without re-encoding.
public protocol EventEncoder: Sendable {
    func encodeBody(_ event: OutboundEvent) -> ByteBuffer
}

/// Why the router ends a session on its own.
public enum SessionTermination: Sendable, Equatable {
    /// The same user logged in elsewhere (ABORTED / REMOTE_LOGIN, close 4008).
    case remoteLogin
    /// The token expired while connected (ABORTED / TOKEN_EXPIRED, close 4009).
    case tokenExpired
    /// The server is shutting down (RECONNECTING / INTERRUPTED, close 1001).
    case serverShutdown
}

/// The transport side of one logged-in session (one WebSocket). Implementations must not block.
public protocol SessionSink: AnyObject, Sendable {
    /// Queues an event body (see ``EventEncoder``), stamping it with the session's next `seq`.
    /// - Returns: `false` if the connection is closed or was closed because its queue overflowed.
    func enqueueEvent(_ body: ByteBuffer) -> Bool
    /// Ends the connection for `reason` after telling the client why.
    func terminate(_ reason: SessionTermination)
}
