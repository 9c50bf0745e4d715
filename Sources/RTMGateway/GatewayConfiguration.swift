import RTMCore

/// Limits and timers of the WebSocket gateway (`client-protocol.md` §1, §2, §8).
package struct GatewayConfiguration: Sendable {
    /// Largest inbound message; larger frames are closed with 1009.
    package var maximumFrameBytes = 64 * 1024
    /// A socket that has not logged in by then is closed with 1008.
    package var loginTimeout: Duration = .seconds(6)
    /// How long `send_peer` waits for the receiver's ack before answering SENT_TIMEOUT.
    package var peerAckTimeout: Duration = .seconds(10)
    /// When `token_privilege_will_expire` is sent, before the token expires.
    package var tokenWarningLead: Duration = .seconds(30)
    /// The outbound queue bound: past either limit the socket is closed with 4005.
    package var maximumQueuedFrames = 1000
    package var maximumQueuedBytes = 4 * 1024 * 1024
    /// Protocol errors tolerated within ``protocolErrorWindow`` before closing with 1008.
    package var protocolErrorLimit = 3
    package var protocolErrorWindow: Duration = .seconds(10)
    /// Interval of WebSocket pings; a link that has not answered a ping (a pong echoing its payload)
    /// by the next one is closed.
    package var pingInterval: Duration = .seconds(10)
    /// How long the server waits for the client's close frame after sending its own. After the login
    /// timeout the TCP connection is closed this long after the close frame was queued, even if the
    /// client reads nothing.
    package var closeTimeout: Duration = .seconds(5)
    /// Bytes of requests waiting in a socket's inbox past which the socket stops reading until they
    /// are handled (besides ``Inbox/maximumRequests`` requests).
    package var maximumInboxBytes = 1024 * 1024
    /// Per-session limits.
    package var limits = ClientLimits()
    /// Peer messages a session keeps for replay until the client acks them, in messages and in bytes
    /// of their frames. Past either bound the session ends and cannot be resumed: its socket is closed
    /// with 4005, `resume` answers 2 (REJECTED), unacknowledged messages sent with offline messaging
    /// go to the offline store and senders still waiting for acks get 408 / SENT_TIMEOUT.
    package var maximumUnackedPeerMessages = 1000
    package var maximumUnackedPeerBytes = 4 * 1024 * 1024
    /// Bytes of channel messages a session keeps for replay per channel (besides
    /// ``replayedChannelMessages``); the oldest are dropped past it.
    package var maximumReplayedChannelBytes = 256 * 1024
    /// Channel messages replayed per channel after a resume, and how far back they may be.
    package var replayedChannelMessages = 32
    package var channelReplayWindow: Duration = .seconds(30)
    /// Maximum presence ids per query (`query_peers_online_status`).
    package var maximumPresenceQueryIDs = 256

    package init() {}
}

/// Per-session rate limits (`client-protocol.md` §8). Each is configurable.
package struct ClientLimits: Sendable {
    package var sends = RateLimit(count: 180, perMilliseconds: 3000)
    package var logins = RateLimit(count: 2, perMilliseconds: 1000)
    package var joins = RateLimit(count: 50, perMilliseconds: 3000)
    package var sameChannelJoins = RateLimit(count: 2, perMilliseconds: 5000)
    package var getMembers = RateLimit(count: 5, perMilliseconds: 2000)
    package var memberCountQueries = RateLimit(count: 1, perMilliseconds: 1000)
    package var presence = RateLimit(count: 10, perMilliseconds: 5000)
    package var attributeWrites = RateLimit(count: 10, perMilliseconds: 5000)
    package var attributeReads = RateLimit(count: 40, perMilliseconds: 5000)

    package init() {}
}
