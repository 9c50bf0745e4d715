import Logging
import PostgresNIO
import RTMCore
import RTMStorePostgres
import Synchronization

/// The per-app messaging limit of a cluster (docs/CLUSTER.md): one token bucket per app in
/// `rtm_rate_bucket`, refilled by PostgreSQL's clock at the app's rate and holding at most one
/// second's worth. A node claims tokens in batches of 5 % of the limit into a local reservoir, one
/// claim at a time per app:
///
/// - the fast path takes from the reservoir without waiting; a reservoir under half a batch starts
///   the next claim in the background;
/// - the regular route, finding the reservoir empty, waits for the claim in flight (or starts one);
///   a claim that gets nothing answers 429 with the wait until the bucket has a token again.
///
/// Every token admitted anywhere came out of the one bucket, so over any `w` seconds the cluster
/// admits at most `limit × (1 + w)` (the bucket's burst plus its refill) plus what the nodes held in
/// their reservoirs when the window opened: at most one and a half batches per node (7.5 % of the
/// limit), since a node claims only while its reservoir is under half a batch.
package final class ClusterMessagingLimiter: MessagingLimiter {
    private struct Reservoir {
        var tokens = 0
        /// The claim in flight, which every caller waiting for a token awaits.
        var claim: Task<Void, Never>?
        /// What the bucket held at the last claim (for the wait a refusal names).
        var available = 0.0
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

    /// The limit per second: the bucket's refill rate and its capacity (one second's worth).
    static func perSecond(_ limit: RateLimit) -> Double {
        Double(limit.count) * 1_000 / Double(limit.windowMilliseconds)
    }

    package func takeFromMemory(_ app: AppID, limit: RateLimit) -> Bool {
        reservoirs.withLock { reservoirs -> Bool in
            if reservoirs[app] == nil, reservoirs.count >= Self.maximumReservoirs { reservoirs.removeAll() }
            var reservoir = reservoirs[app] ?? Reservoir()
            defer { reservoirs[app] = reservoir }
            let taken = reservoir.tokens > 0
            if taken { reservoir.tokens -= 1 }
            if reservoir.tokens < (Self.batch(limit) + 1) / 2 { _ = startClaimIfIdle(&reservoir, app, limit) }   // in the background
            return taken
        }
    }

    package func take(_ app: AppID, limit: RateLimit) async -> RateDecision {
        if takeFromMemory(app, limit: limit) { return .allowed }
        let claim = reservoirs.withLock { reservoirs -> Task<Void, Never>? in
            var reservoir = reservoirs[app] ?? Reservoir()
            defer { reservoirs[app] = reservoir }
            return reservoir.claim ?? startClaimIfIdle(&reservoir, app, limit)
        }
        await claim?.value
        return reservoirs.withLock { reservoirs -> RateDecision in
            guard var reservoir = reservoirs[app] else { return .limited(retryAfterSeconds: 1) }
            defer { reservoirs[app] = reservoir }
            if reservoir.tokens > 0 {
                reservoir.tokens -= 1
                return .allowed
            }
            let wait = max(0, 1 - reservoir.available) / max(Self.perSecond(limit), 0.001)
            return .limited(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
        }
    }

    /// Starts a claim for `app` unless one is in flight (the reservoirs' lock held).
    private func startClaimIfIdle(_ reservoir: inout Reservoir, _ app: AppID, _ limit: RateLimit) -> Task<Void, Never>? {
        guard reservoir.claim == nil else { return nil }
        let claim = Task { await self.claim(app, limit: limit) }
        reservoir.claim = claim
        return claim
    }

    /// Claims a batch from the app's bucket into the reservoir. A claim that fails (the database)
    /// grants nothing: the calls waiting for it answer 429, and the next call tries again.
    private func claim(_ app: AppID, limit: RateLimit) async {
        var granted = 0
        var available = 0.0
        do {
            (granted, available) = try await claimFromBucket(app, batch: Self.batch(limit), perSecond: Self.perSecond(limit))
        } catch {
            logger.warning("cluster: claiming messaging tokens for \(app) failed: \(String(reflecting: error))")
        }
        reservoirs.withLock { reservoirs in
            var reservoir = reservoirs[app] ?? Reservoir()
            reservoir.claim = nil
            reservoir.tokens += granted
            reservoir.available = available
            reservoirs[app] = reservoir
        }
    }

    /// Takes up to `batch` whole tokens from the bucket, refilled first by the time since its last
    /// claim: one statement (one round trip) when the bucket exists; it is made full on first use.
    /// Returns what was granted and what the bucket held before.
    private func claimFromBucket(_ app: AppID, batch: Int, perSecond: Double) async throws -> (granted: Int, available: Double) {
        for _ in 0..<2 {   // the second pass only if another node made the bucket between the two statements
            let claimed = try await store.client.query("""
                UPDATE rtm_rate_bucket AS bucket SET tokens = refilled.available - refilled.granted, refilled_at = now()
                FROM (SELECT app_id, available, LEAST(floor(available), \(Double(batch))) AS granted
                      FROM (SELECT app_id, LEAST(\(perSecond), tokens + EXTRACT(EPOCH FROM now() - refilled_at)::float8 * \(perSecond))
                                   AS available
                            FROM rtm_rate_bucket WHERE app_id = \(app.rawValue) FOR UPDATE) AS current) AS refilled
                WHERE bucket.app_id = refilled.app_id
                RETURNING refilled.granted, refilled.available
                """, logger: logger)
            for try await (granted, available) in claimed.decode((Double, Double).self) { return (Int(granted), available) }
            let granted = min(Double(batch), perSecond.rounded(.down))
            let created = try await store.client.query("""
                INSERT INTO rtm_rate_bucket (app_id, tokens, refilled_at) VALUES (\(app.rawValue), \(perSecond - granted), now())
                ON CONFLICT (app_id) DO NOTHING RETURNING app_id
                """, logger: logger)
            for try await _ in created.decode(String.self) { return (Int(granted), perSecond) }
        }
        return (0, 0)
    }
}
