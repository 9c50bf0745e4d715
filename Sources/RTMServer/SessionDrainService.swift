import RTMCore
import ServiceLifecycle

/// On graceful shutdown, tells every client the server is going away (`connection_state`
/// RECONNECTING / INTERRUPTED, close 1001) and gives their queues `flushTime` to flush. It is the
/// last service added, so it stops first: the HTTP server is still up while the clients are told.
/// The flush is socket time, so it waits on the system clock (a test's manual clock would never end it).
struct SessionDrainService: Service {
    let router: RTMCore.Router
    let flushTime: Duration
    /// Runs first: in a cluster, the node hands its sessions over (so that the others keep them
    /// online while their clients resume elsewhere).
    var beforeDrain: @Sendable () async -> Void = {}

    func run() async throws {
        try? await gracefulShutdown()
        await beforeDrain()
        router.terminateAll(.serverShutdown)
        try? await Task.sleep(for: flushTime)
    }
}
