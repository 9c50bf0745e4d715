import RTMCore

/// The token buckets of one socket. Only the socket's request handling touches them.
///
/// The eight per-kind buckets (``TokenBucket``s, 16 bytes each, full until first used) are stored inline
/// rather than in a dictionary: every logged-in socket has them, and a dictionary allocation per socket showed up
/// in the memory profile of idle connections.
struct SessionRateLimits {
    /// Shared by every socket (a reference, rather than a 144-byte copy in each).
    final class SharedLimits: Sendable {
        let limits: ClientLimits
        init(_ limits: ClientLimits) { self.limits = limits }
    }

    private let shared: SharedLimits
    private var limits: ClientLimits { shared.limits }
    private var buckets = Buckets()
    /// Per-channel join buckets: a short list (a session joins few channels), searched linearly.
    private var channelJoins: [(channel: String, bucket: TokenBucket)] = []

    enum Kind {
        case sends, logins, joins, getMembers, memberCountQueries, presence, attributeWrites, attributeReads
    }

    /// One bucket per ``Kind``, inline.
    struct Buckets {
        var sends = TokenBucket(), logins = TokenBucket(), joins = TokenBucket(), getMembers = TokenBucket()
        var memberCountQueries = TokenBucket(), presence = TokenBucket(), attributeWrites = TokenBucket(), attributeReads = TokenBucket()
    }

    init(limits: SharedLimits) {
        self.shared = limits
    }

    /// Takes one token of `kind`; `false` when the limit is reached.
    mutating func allow(_ kind: Kind, now: Int64) -> Bool {
        switch kind {
        case .sends: buckets.sends.tryTake(under: limits.sends, now: now)
        case .logins: buckets.logins.tryTake(under: limits.logins, now: now)
        case .joins: buckets.joins.tryTake(under: limits.joins, now: now)
        case .getMembers: buckets.getMembers.tryTake(under: limits.getMembers, now: now)
        case .memberCountQueries: buckets.memberCountQueries.tryTake(under: limits.memberCountQueries, now: now)
        case .presence: buckets.presence.tryTake(under: limits.presence, now: now)
        case .attributeWrites: buckets.attributeWrites.tryTake(under: limits.attributeWrites, now: now)
        case .attributeReads: buckets.attributeReads.tryTake(under: limits.attributeReads, now: now)
        }
    }

    /// Takes one token of the per-channel join limit for `channel`.
    mutating func allowJoin(of channel: String, now: Int64) -> Bool {
        if let index = channelJoins.firstIndex(where: { $0.channel == channel }) {
            return channelJoins[index].bucket.tryTake(under: limits.sameChannelJoins, now: now)
        }
        if channelJoins.count >= 256 { channelJoins.removeAll() } // bounded; a reset only forgives
        var bucket = TokenBucket()
        defer { channelJoins.append((channel, bucket)) }
        return bucket.tryTake(under: limits.sameChannelJoins, now: now)
    }
}
