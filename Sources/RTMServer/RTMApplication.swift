import Foundation
import Hummingbird
import Logging
import NIOCore
import RTMCluster
import RTMClusterPostgres
import RTMCore
import RTMGateway
import RTMStorePostgres
import RTMHTTPAPI
import ServiceLifecycle
import Synchronization

/// The composed server: stores, router, REST API and gateway behind one listener.
/// The executable and the tests both build it with ``build(configuration:clock:stopsOnSignals:logger:)``,
/// then ``run(onListening:)`` serves until SIGTERM/SIGINT or ``shutdown()``.
///
/// Everything long-running is a `Service` in one `ServiceGroup`, added in this order and so stopped
/// in the reverse one: the PostgreSQL client (if any), the event recorder, the retention sweeper
/// (started by `build`), the HTTP server and the session drain (started by `run`).
package struct RTMApplication: Sendable {
    package let configuration: ServerConfiguration
    /// How this node reaches sessions: its router alone, or in cluster mode (`node_id`) a
    /// ``ClusterBroker`` around it.
    package let broker: any Broker
    /// This node's router (the sessions it holds).
    package let router: RTMCore.Router
    /// In cluster mode, the broker (also ``broker``), which hands the sessions over at shutdown.
    package let clusterBroker: ClusterBroker?
    package let messages: MessageService
    package let apps: AppDirectory
    /// The stores of the configured backend (SQLite in the data dir, or PostgreSQL).
    package let stores: StoreBundle
    package let gateway: Gateway
    /// The REST API (its fast path counts what it answered: ``RESTAPI/fastPathAnswerCount``).
    package let rest: RESTAPI
    package let sweeper: RetentionSweeper
    let services: ServiceRunner
    let isReachable: @Sendable () async -> Bool
    /// Credentials created by this start's first-run bootstrap, if any.
    package let bootstrap: BootstrapCredentials?
    /// Resolves to the bound port once the server listens.
    package let boundPort: BoundPort
    let logger: Logger
    let clock: any RTMClock

    /// Opens the store, applies configured apps, runs the first-run bootstrap and wires the parts;
    /// the PostgreSQL client, the event recorder and the retention sweeper run from here on (until
    /// ``shutdown()``, or a signal once ``run(onListening:)`` serves).
    /// - Parameter stopsOnSignals: whether SIGTERM and SIGINT start the graceful shutdown (the
    ///   executable); an embedding that stops the server with ``shutdown()`` passes `false`.
    package static func build(configuration: ServerConfiguration, clock: any RTMClock = SystemClock(), stopsOnSignals: Bool = true,
                             logger: Logger = Logger(label: "rtm")) async throws -> RTMApplication {
        try ConfigurationLoader.validate(configuration)
        _ = MetricsBootstrap.registry  // counters made before the bootstrap would never report
        let services = ServiceRunner(stopsOnSignals: stopsOnSignals, maximumShutdownDuration: configuration.maximumShutdownDuration,
                                     logger: logger)
        do {
            return try await build(configuration: configuration, clock: clock, services: services, logger: logger)
        } catch {
            try? await services.shutdown()
            throw error
        }
    }

    private static func build(configuration: ServerConfiguration, clock: any RTMClock, services: ServiceRunner,
                              logger: Logger) async throws -> RTMApplication {
        let opened = try await OpenedStore.open(databaseURL: configuration.databaseURL, dataDirectory: configuration.dataDirectory,
                                                services: services, logger: logger)
        let stores = opened.stores, isReachable = opened.isReachable
        let bootstrap = try await Bootstrap.prepare(registry: stores.apps, configuration: configuration)
        let apps = AppDirectory(registry: stores.apps, clock: clock)
        try await apps.reload()
        let recorder = EventRecorder(log: stores.events, logger: logger)
        await services.add(CancelledOnShutdownService(description: "event recorder") { await recorder.run() })
        let (broker, router, messagingLimiter) = try await makeBroker(configuration: configuration, postgres: opened.postgres, clock: clock,
                                                    recorder: recorder, services: services, logger: logger)
        var limits = MessageService.Limits()
        limits.offlineRetention = configuration.offlineRetention
        let messages = MessageService(broker: broker, stores: stores, limits: limits, logger: logger)
        let sweeper = RetentionSweeper(stores: stores, clock: clock, limits: limits, interval: configuration.retentionSweepInterval,
                                       logger: logger)
        await services.add(CancelledOnShutdownService(description: "retention sweeper") { await sweeper.run() })
        var gatewayConfiguration = configuration.gateway
        gatewayConfiguration.peerAckTimeout = configuration.ackTimeout
        gatewayConfiguration.pingInterval = configuration.pingInterval
        let gateway = Gateway(messages: messages, apps: apps, configuration: gatewayConfiguration, logger: logger)
        var restConfiguration = RESTConfiguration()
        restConfiguration.ackTimeout = configuration.ackTimeout
        let rest = RESTAPI(messages: messages, apps: apps, eventRecorder: recorder, configuration: restConfiguration,
                           messagingLimiter: messagingLimiter, logger: logger)
        return RTMApplication(configuration: configuration, broker: broker, router: router, clusterBroker: broker as? ClusterBroker,
                              messages: messages, apps: apps, stores: stores,
                              gateway: gateway, rest: rest, sweeper: sweeper, services: services, isReachable: isReachable,
                              bootstrap: bootstrap, boundPort: BoundPort(), logger: logger, clock: clock)
    }

    /// The one place that decides cluster mode: a `node_id` with a PostgreSQL store. Then the bus, the
    /// cluster broker and the node lease run as services after the PostgreSQL client (so they stop
    /// before it), and the messaging limit is the cluster's. Otherwise the node's router is the broker
    /// (a `node_id` alone only names the node, in logs).
    private static func makeBroker(configuration: ServerConfiguration, postgres: PostgresStore?, clock: any RTMClock,
                                   recorder: EventRecorder, services: ServiceRunner,
                                   logger: Logger) async throws -> (any Broker, RTMCore.Router, (any MessagingLimiter)?) {
        guard let nodeID = configuration.nodeID, let postgres else {
            if let nodeID = configuration.nodeID {
                logger.info("node \(nodeID) runs alone: cluster mode needs a PostgreSQL database_url shared by every node")
            }
            let router = RTMCore.Router(clock: clock, encoder: GatewayEventEncoder(), eventRecorder: recorder, logger: logger)
            return (router, router, nil)
        }
        let bus = PostgresBus(nodeID: nodeID, store: postgres, logger: logger)
        let broker = ClusterBroker(bus: bus, clock: clock, encoder: GatewayEventEncoder(), eventRecorder: recorder,
                                   logger: logger)
        var leaseSettings = NodeLease.Settings()
        leaseSettings.duration = configuration.nodeLeaseDuration
        leaseSettings.renewal = configuration.nodeLeaseRenewal
        let lease = NodeLease(nodeID: nodeID, store: postgres, settings: leaseSettings, logger: logger,
                              onNodeLost: { broker.reportNodeLost($0) }, onLeaseLost: { broker.leaseLost() })
        do {
            try await lease.registerAtStart()
        } catch {
            throw ConfigurationError(key: "node_id", problem: "\(error)")
        }
        broker.forgetPreviousRun()
        await services.add(bus)
        await services.add(ClusterBrokerService(broker: broker))
        await services.add(lease)
        logger.info("cluster mode: node \(nodeID) on PostgreSQL's bus \(PostgresBus.channel)")
        return (broker, broker.router, ClusterMessagingLimiter(store: postgres, logger: logger))
    }

    /// At most this many connections are open at once (`max_connections`, or the default that
    /// follows from the file-descriptor limit).
    package var connectionBudget: Int { configuration.maximumConnections ?? FileDescriptorLimit.defaultConnectionBudget() }

    /// The Hummingbird application serving REST, health, metrics and `GET /v1/ws` (``run(onListening:)`` runs it).
    func makeHTTPApplication(onListening: @escaping @Sendable (String, Int) -> Void) -> some ApplicationProtocol
    {
        let rest = self.rest
        let httpRouter = Hummingbird.Router(context: BasicRequestContext.self)
        rest.register(on: httpRouter)
        let clusterBroker = self.clusterBroker
        HealthRoutes(isReachable: isReachable, clusterNotReadyBecause: { clusterBroker?.notReadyBecause }).register(on: httpRouter)

        let host = configuration.host
        let boundPort = self.boundPort
        let restFastPath = configuration.restFastPath
        let connections = HTTPConnectionSettings(configuration: configuration, clock: clock)
        let budget = ConnectionBudget(maximum: connectionBudget, logger: logger)
        return Application(
            router: httpRouter,
            server: .rtm(gateway: gateway, connections: connections, fastPath: { restFastPath ? rest.makeFastPath() : nil }),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: nil,
                                 availableConnectionsDelegate: budget),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                boundPort.set(port)
                onListening(host, port)
            },
            logger: logger
        )
    }

    /// Serves until SIGTERM/SIGINT (if built with `stopsOnSignals`) or ``shutdown()``, then shuts
    /// down gracefully, in this order: every client is told (`connection_state` RECONNECTING /
    /// INTERRUPTED, close 1001) and its queue gets ``ServerConfiguration/shutdownFlushTime`` to
    /// flush; the HTTP server stops accepting and answers the requests it has; the retention sweeper
    /// stops; the event recorder writes what it holds; the PostgreSQL client closes last. Returns
    /// once all of them have stopped.
    package func run(onListening: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws {
        await services.add(makeHTTPApplication(onListening: onListening))
        let clusterBroker = self.clusterBroker
        await services.add(SessionDrainService(router: router, flushTime: configuration.shutdownFlushTime,
                                               beforeDrain: { await clusterBroker?.handOver() }))
        try await services.wait()
    }

    /// Starts the graceful shutdown ``run(onListening:)`` describes (what SIGTERM does) and waits
    /// until every service has stopped; without `run`, stops what `build` started.
    package func shutdown() async throws {
        try await services.shutdown()
    }
}

/// Holds the port the listener bound (useful with port 0).
package final class BoundPort: Sendable {
    private let state = Mutex<(Int?, [CheckedContinuation<Int, Never>])>((nil, []))

    func set(_ port: Int) {
        let waiters = state.withLock { state -> [CheckedContinuation<Int, Never>] in
            state.0 = port
            defer { state.1 = [] }
            return state.1
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    /// Waits until the server listens and returns its port.
    package func value() async -> Int {
        await withCheckedContinuation { continuation in
            let port = state.withLock { state -> Int? in
                if let port = state.0 { return port }
                state.1.append(continuation)
                return nil
            }
            if let port { continuation.resume(returning: port) }
        }
    }
}

