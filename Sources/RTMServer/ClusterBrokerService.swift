import RTMCluster
import ServiceLifecycle

/// The cluster broker as a service: it applies and publishes bus events until the graceful
/// shutdown reaches it (after the session drain and the HTTP server, so the sessions' logouts are
/// in its outbox), then says this node is leaving, publishes what waits, and stops.
struct ClusterBrokerService: Service, CustomStringConvertible {
    let broker: ClusterBroker
    var description: String { "cluster broker" }

    func run() async {
        let running = Task { await broker.run() }
        try? await gracefulShutdown()
        broker.leaving()
        await broker.flushOutbox()
        running.cancel()
        await running.value
    }
}
