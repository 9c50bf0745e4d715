/// How long a dropped session lives on (`client-protocol.md` §2, `agora-rtm-client.md` §1.5).
package struct SessionGraceLimits: Sendable {
    /// Subscribers see UNREACHABLE once a session has been disconnected this long.
    package var unreachableAfter: Duration = .seconds(6)
    /// A session disconnected this long goes OFFLINE, leaves its channels and can no longer be resumed.
    package var gracePeriod: Duration = .seconds(30)
    /// Peers a session may watch in total, and per call.
    package var maximumSubscriptions = 512
    /// A channel's attributes are dropped once it has had no members for this long.
    package var channelAttributeRetention: Duration = .seconds(120)

    package init() {}
}

/// Size limits of user and channel attributes (`agora-rtm-client.md` §5).
package struct AttributeLimits: Sendable {
    package var maximumKeyBytes = 32
    package var maximumValueBytes = 8 * 1024
    package var maximumCount = 32
    package var maximumUserTotalBytes = 16 * 1024
    package var maximumChannelTotalBytes = 32 * 1024

    package init() {}
}

extension Duration {
    /// Whole milliseconds.
    package var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
