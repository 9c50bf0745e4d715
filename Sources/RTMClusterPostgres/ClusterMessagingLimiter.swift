import Logging
import PostgresNIO
import RTMCore
import RTMStorePostgres
import Synchronization

/// The per-app messaging limit of a cluster (docs/CLUSTER.md): one token bucket per app in
/// `rtm_rate_bucket`, refilled by PostgreSQL's clock at the app's rate and holding at most one
/// second's worth. A node claims tokens in batches of 5 % of the limit into a local reservoir:
///
/// - the fast path takes from the reservoir without waiting; a reservoir under half a batch claims
///   the next batch in the background;
/// - the regular route, finding the reservoir empty, waits for a claim; a claim that gets nothing
///   answers 429 with the wait until the bucket has a token again.
///
/// Every token admitted anywhere came out of the one bucket, so over any window of `w` seconds the
/// cluster admits at most `limit × (1 + w)` (the bucket's burst plus its refill): 10 % over the rate
/// across 10 s, as one node's own bucket. Tokens a node claimed and did not use stay unused (at most
/// one batch per node and app).
package final class ClusterMessagingLimiter: MessagingLimiter {
    private struct Reservoir {
        var tokens = 0
        var claiming = false
    }

    private let store: PostgresStore
    private let logger: Logger
    private let reservoirs = Mutex<[AppID: Reservoir]>([:])
    /// Apps with a reservoir, at most (the memory bound under floods of app ids).
    static let maximumReservoirs = 10_000

    package init(store: PostgresStore, logger: Logger = Logger(label: "rtm.cluster.limit")) {
        self.store = store
        self.logger = logger
    }

    /// Tokens claimed at once: 5 % of the limit per second, at least one.
    static func batch(_ limit: RateLimit) -> Int {
        max(1, Int((perSecond(limit) * 0.05).rounded(.up)))
    }

    static func perSecond(_ limit: RateLimit) -> Double {
        Double(limit.count) * 1_000 / Double(limit.windowMilliseconds)
    }

    package func takeFromMemory(_ app: AppID, limit: RateLimit) -> Bool {
        let batch = Self.batch(limit)
        let (taken, claim) = reservoirs.withLock { reservoirs -> (Bool, Bool) in
            if reservoirs[app] == nil, reservoirs.count >= Self.maximumReservoirs { reservoirs.removeAll() }
            var reservoir = reservoirs[app] ?? Reservoir()
            let taken = reservoir.tokens > 0
            if taken { reservoir.tokens -= 1 }
            let claim = !reservoir.claiming && reservoir.tokens < (batch + 1) / 2
            if claim { reservoir.claiming = true }
            reservoirs[app] = reservoir
            return (taken, claim)
        }
        if claim { Task { _ = await self.claim(app, limit: limit) } }
        return taken
    }

    package func take(_ app: AppID, limit: RateLimit) async -> RateDecision {
        if takeFromMemory(app, limit: limit) { return .allowed }
        let decision = await claim(app, limit: limit, takingOne: true)
        return decision
    }

    /// Claims a batch from the app's bucket into the reservoir. With `takingOne`, one token of what
    /// it gets is the caller's; without any, the wait until the bucket has one.
    @discardableResult
    private func claim(_ app: AppID, limit: RateLimit, takingOne: Bool = false) async -> RateDecision {
        let batch = Self.batch(limit)
        let rate = Self.perSecond(limit)
        let capacity = Double(limit.count) * 1_000 / Double(limit.windowMilliseconds)
        var granted = 0
        var available = 0.0
        do {
            try await store.client.withTransaction(logger: logger) { connection in
                for try await _ in try await connection.query("""
                    INSERT INTO rtm_rate_bucket (app_id, tokens, refilled_at) VALUES (\(app.rawValue), \(capacity), now())
                    ON CONFLICT (app_id) DO NOTHING
                    """, logger: logger) {}
                let rows = try await connection.query("""
                    SELECT LEAST(\(capacity), tokens + EXTRACT(EPOCH FROM now() - refilled_at)::float8 * \(rate))
                    FROM rtm_rate_bucket WHERE app_id = \(app.rawValue) FOR UPDATE
                    """, logger: logger)
                for try await value in rows.decode(Double.self) { available = value }
                granted = max(0, min(batch, Int(available.rounded(.down))))
                for try await _ in try await connection.query("""
                    UPDATE rtm_rate_bucket SET tokens = \(available - Double(granted)), refilled_at = now() WHERE app_id = \(app.rawValue)
                    """, logger: logger) {}
            }
        } catch {
            logger.warning("cluster: claiming messaging tokens for \(app) failed: \(String(reflecting: error))")
        }
        let taken = reservoirs.withLock { reservoirs -> Bool in
            var reservoir = reservoirs[app] ?? Reservoir()
            reservoir.claiming = false
            reservoir.tokens += granted
            let taken = takingOne && reservoir.tokens > 0
            if taken { reservoir.tokens -= 1 }
            reservoirs[app] = reservoir
            return taken
        }
        if taken || !takingOne { return .allowed }
        let wait = max(0, 1 - available) / max(rate, 0.001)
        return .limited(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
    }
}
