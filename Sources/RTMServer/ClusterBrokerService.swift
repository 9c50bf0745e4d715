import RTMCluster
import ServiceLifecycle

/// The cluster broker as a service: it applies and publishes bus events until the graceful
/// shutdown reaches it (after the session drain, which handed the sessions over, and the HTTP
/// server), then publishes what waits and stops.
struct ClusterBrokerService: Service, CustomStringConvertible {
    let broker: ClusterBroker
    var description: String { "cluster broker" }

    func run() async {
        let running = Task { await broker.run() }
        try? await gracefulShutdown()
        await broker.flushOutbox()
        running.cancel()
        await running.value
    }
}
