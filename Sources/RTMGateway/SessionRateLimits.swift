import RTMCore

/// The token buckets of one socket. Only the socket's request handling touches them.
///
/// The eight per-kind buckets are stored inline (16 bytes each, created full on first use) rather than
/// in a dictionary: every logged-in socket has them, and a dictionary allocation per socket showed up
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
    private var channelJoins: [(channel: String, bucket: Bucket)] = []

    enum Kind: Int, CaseIterable {
        case sends, logins, joins, getMembers, memberCountQueries, presence, attributeWrites, attributeReads
    }

    /// A token bucket without its limit (the limit comes from the kind).
    struct Bucket {
        var tokens: Float = .nan   // NaN: not used yet, so full
        var updatedAt: Int64 = 0

        mutating func tryTake(_ limit: RateLimit, now: Int64) -> Bool {
            if tokens.isNaN {
                tokens = Float(limit.count)
                updatedAt = now
            } else if now > updatedAt {
                let refill = Double(now - updatedAt) * Double(limit.count) / Double(limit.windowMilliseconds)
                tokens = Float(min(Double(limit.count), Double(tokens) + refill))
                updatedAt = now
            }
            guard tokens >= 1 else { return false }
            tokens -= 1
            return true
        }
    }

    /// One bucket per ``Kind``, inline.
    struct Buckets {
        var sends = Bucket(), logins = Bucket(), joins = Bucket(), getMembers = Bucket()
        var memberCountQueries = Bucket(), presence = Bucket(), attributeWrites = Bucket(), attributeReads = Bucket()
    }

    init(limits: SharedLimits) {
        self.shared = limits
    }

    /// Takes one token of `kind`; `false` when the limit is reached.
    mutating func allow(_ kind: Kind, now: Int64) -> Bool {
        switch kind {
        case .sends: buckets.sends.tryTake(limits.sends, now: now)
        case .logins: buckets.logins.tryTake(limits.logins, now: now)
        case .joins: buckets.joins.tryTake(limits.joins, now: now)
        case .getMembers: buckets.getMembers.tryTake(limits.getMembers, now: now)
        case .memberCountQueries: buckets.memberCountQueries.tryTake(limits.memberCountQueries, now: now)
        case .presence: buckets.presence.tryTake(limits.presence, now: now)
        case .attributeWrites: buckets.attributeWrites.tryTake(limits.attributeWrites, now: now)
        case .attributeReads: buckets.attributeReads.tryTake(limits.attributeReads, now: now)
        }
    }

    /// Takes one token of the per-channel join limit for `channel`.
    mutating func allowJoin(of channel: String, now: Int64) -> Bool {
        if let index = channelJoins.firstIndex(where: { $0.channel == channel }) {
            return channelJoins[index].bucket.tryTake(limits.sameChannelJoins, now: now)
        }
        if channelJoins.count >= 256 { channelJoins.removeAll() } // bounded; a reset only forgives
        var bucket = Bucket()
        defer { channelJoins.append((channel, bucket)) }
        return bucket.tryTake(limits.sameChannelJoins, now: now)
    }
}
