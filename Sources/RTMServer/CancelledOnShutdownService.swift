import ServiceLifecycle

/// Work that runs until its task is cancelled (the event recorder, the retention sweeper, the
/// PostgreSQL pool), as a `Service`: a graceful shutdown cancels it, and it stops as its own
/// cancellation path says (the event recorder writes what it holds first).
struct CancelledOnShutdownService: Service, CustomStringConvertible {
    /// The name the service group logs.
    let description: String
    let work: @Sendable () async -> Void

    func run() async {
        await cancelWhenGracefulShutdown(work)
    }
}
