import Synchronization

/// A limit of `count` events per `window`, as the specs state them ("180 per 3 s").
package struct RateLimit: Sendable, Equatable, Codable {
    package var count: Int
    package var windowMilliseconds: Int64

    package init(count: Int, perMilliseconds window: Int64) {
        self.count = max(count, 1)
        self.windowMilliseconds = max(window, 1)
    }

    /// `count` per second.
    package static func perSecond(_ count: Int) -> RateLimit { RateLimit(count: count, perMilliseconds: 1000) }
}

/// A token bucket's state (how many tokens, as of when) without its limit, which every call passes:
/// full at `limit.count`, refilled continuously at `count / window`, full until first used. Value type;
/// wrap it in a lock where it is shared. Being 16 bytes with no limit inside, it also serves the
/// per-socket buckets every logged-in connection keeps (`SessionRateLimits`).
package struct TokenBucket: Sendable {
    private var tokens: Double = 0
    /// `.min` until first used (the bucket is then full).
    private var updatedAt: Int64 = .min

    package init() {}

    private mutating func refill(_ limit: RateLimit, now: Int64) {
        if updatedAt == .min {
            tokens = Double(limit.count)
            updatedAt = now
            return
        }
        guard now > updatedAt else { return }
        let rate = Double(limit.count) / Double(limit.windowMilliseconds)
        tokens = min(Double(limit.count), tokens + Double(now - updatedAt) * rate)
        updatedAt = now
    }

    /// Takes one token under `limit` if there is one.
    package mutating func tryTake(under limit: RateLimit, now: Int64) -> Bool {
        refill(limit, now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Milliseconds until one token is available under `limit` (0 if one is available now).
    package mutating func millisecondsUntilAvailable(under limit: RateLimit, now: Int64) -> Int64 {
        refill(limit, now: now)
        if tokens >= 1 { return 0 }
        let rate = Double(limit.count) / Double(limit.windowMilliseconds)
        return Int64(((1 - tokens) / rate).rounded(.up))
    }
}

/// Token buckets keyed by `Key`, safe to share between tasks; idle buckets are dropped once full again.
package final class KeyedRateLimiter<Key: Hashable & Sendable>: Sendable {
    private let buckets: Mutex<[Key: (limit: RateLimit, bucket: TokenBucket)]>
    private let clock: any RTMClock

    package init(clock: any RTMClock) {
        self.clock = clock
        self.buckets = Mutex([:])
    }

    /// Takes one token for `key` under `limit`. On refusal returns the whole seconds (≥ 1) to wait.
    @_specialize(where Key == AppID)
    package func acquire(_ key: Key, limit: RateLimit) -> RateDecision {
        let now = clock.nowMilliseconds()
        return buckets.withLock { buckets in
            // A changed limit starts a fresh bucket.
            var bucket = buckets[key].flatMap { $0.limit == limit ? $0.bucket : nil } ?? TokenBucket()
            defer {
                buckets[key] = (limit, bucket)
                if buckets.count > 100_000 { buckets.removeAll(keepingCapacity: true) } // bound memory under id floods
            }
            if bucket.tryTake(under: limit, now: now) { return .allowed }
            let wait = bucket.millisecondsUntilAvailable(under: limit, now: now)
            return .limited(retryAfterSeconds: max(1, Int((wait + 999) / 1000)))
        }
    }
}

/// The outcome of a rate-limit check.
package enum RateDecision: Sendable, Equatable {
    case allowed
    case limited(retryAfterSeconds: Int)

    package var isAllowed: Bool { self == .allowed }
}
