import RTMCore

/// The token buckets of one socket. Only the socket's own read loop touches them.
struct SessionRateLimits {
    private let limits: ClientLimits
    private var buckets: [Kind: TokenBucket] = [:]
    private var channelJoins: [String: TokenBucket] = [:]

    enum Kind: Hashable {
        case sends, logins, joins, getMembers, memberCountQueries, presence, attributeWrites, attributeReads
    }

    init(limits: ClientLimits) {
        self.limits = limits
    }

    private func limit(for kind: Kind) -> RateLimit {
        switch kind {
        case .sends: limits.sends
        case .logins: limits.logins
        case .joins: limits.joins
        case .getMembers: limits.getMembers
        case .memberCountQueries: limits.memberCountQueries
        case .presence: limits.presence
        case .attributeWrites: limits.attributeWrites
        case .attributeReads: limits.attributeReads
        }
    }

    /// Takes one token of `kind`; `false` when the limit is reached.
    mutating func allow(_ kind: Kind, now: Int64) -> Bool {
        var bucket = buckets[kind] ?? TokenBucket(limit: limit(for: kind), now: now)
        defer { buckets[kind] = bucket }
        return bucket.tryTake(now: now)
    }

    /// Takes one token of the per-channel join limit for `channel`.
    mutating func allowJoin(of channel: String, now: Int64) -> Bool {
        if channelJoins.count > 256 { channelJoins.removeAll() } // bounded; a reset only forgives
        var bucket = channelJoins[channel] ?? TokenBucket(limit: limits.sameChannelJoins, now: now)
        defer { channelJoins[channel] = bucket }
        return bucket.tryTake(now: now)
    }
}
