/// How long a dropped session lives on (`client-protocol.md` §2, `agora-rtm-client.md` §1.5).
public struct SessionGraceLimits: Sendable {
    /// Subscribers see UNREACHABLE once a session has been disconnected this long.
    public var unreachableAfter: Duration = .seconds(6)
    /// A session disconnected this long goes OFFLINE, leaves its channels and can no longer be resumed.
    public var gracePeriod: Duration = .seconds(30)
    /// Peers a session may watch in total, and per call.
    public var maximumSubscriptions = 512
    /// A channel's attributes are dropped once it has had no members for this long.
    public var channelAttributeRetention: Duration = .seconds(120)

    public init() {}
}

/// Size limits of user and channel attributes (`agora-rtm-client.md` §5).
public struct AttributeLimits: Sendable {
    public var maximumKeyBytes = 32
    public var maximumValueBytes = 8 * 1024
    public var maximumCount = 32
    public var maximumUserTotalBytes = 16 * 1024
    public var maximumChannelTotalBytes = 32 * 1024

    public init() {}
}

extension Duration {
    /// Whole milliseconds.
    public var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
