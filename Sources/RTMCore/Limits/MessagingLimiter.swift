/// The per-app limit on REST messaging calls (500 per second unless the app says otherwise), as
/// the REST API takes it: from memory without waiting (the fast path, on the event loop), or
/// waiting for what only a cluster's shared bucket can grant (the regular route).
///
/// One node: ``KeyedRateLimiter`` (both answer from its token buckets). A cluster: a limiter that
/// claims tokens from one bucket in PostgreSQL (docs/CLUSTER.md, "The messaging limit across nodes").
package protocol MessagingLimiter: Sendable {
    /// A token for `app` if one is at hand now; `false` hands the request to ``take(_:limit:)``.
    func takeFromMemory(_ app: AppID, limit: RateLimit) -> Bool
    /// A token for `app`, or how long to wait for the next.
    func take(_ app: AppID, limit: RateLimit) async -> RateDecision
}

extension KeyedRateLimiter: MessagingLimiter where Key == AppID {
    package func takeFromMemory(_ app: AppID, limit: RateLimit) -> Bool {
        acquire(app, limit: limit).isAllowed
    }

    package func take(_ app: AppID, limit: RateLimit) async -> RateDecision {
        acquire(app, limit: limit)
    }
}
