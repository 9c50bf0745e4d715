import Foundation
import Hummingbird
import Logging
import NIOCore
import RTMCore
import RTMGateway
import RTMHTTPAPI
import ServiceLifecycle
import Synchronization

/// The composed server: stores, router, REST API and gateway behind one listener.
/// The executable and the tests both build it with ``build(configuration:clock:logger:)``.
public struct RTMApplication: Sendable {
    public let configuration: ServerConfiguration
    public let router: RTMCore.Router
    public let messages: MessageService
    public let apps: AppDirectory
    /// The stores of the configured backend (SQLite in the data dir, or PostgreSQL).
    public let stores: StoreBundle
    public let gateway: Gateway
    /// The REST API (its fast path counts what it answered: ``RESTAPI/fastPathAnswerCount``).
    public let rest: RESTAPI
    public let sweeper: RetentionSweeper
    /// Background work started by `build` (the database pool, the event writer, the sweeper),
    /// stopped by ``BackgroundWork/stop()`` after the listener is down.
    public let background: BackgroundWork
    let isReachable: @Sendable () async -> Bool
    /// Credentials created by this start's first-run bootstrap, if any.
    public let bootstrap: BootstrapCredentials?
    /// Resolves to the bound port once the server listens.
    public let boundPort: BoundPort
    let logger: Logger
    let clock: any RTMClock

    /// Opens the store, applies configured apps, runs the first-run bootstrap and wires the parts.
    public static func build(configuration: ServerConfiguration, clock: any RTMClock = SystemClock(),
                             logger: Logger = Logger(label: "rtm")) async throws -> RTMApplication {
        try ConfigurationLoader.validate(configuration)
        _ = MetricsBootstrap.registry  // counters made before the bootstrap would never report
        let background = BackgroundWork()
        let opened: OpenedStore
        do {
            opened = try await OpenedStore.open(databaseURL: configuration.databaseURL, dataDirectory: configuration.dataDirectory,
                                                background: background, logger: logger)
        } catch {
            await background.stop()
            throw error
        }
        let stores = opened.stores, isReachable = opened.isReachable
        let bootstrap = try await Bootstrap.prepare(registry: stores.apps, configuration: configuration)
        let apps = AppDirectory(registry: stores.apps, clock: clock)
        try await apps.reload()
        let recorder = EventRecorder(log: stores.events, logger: logger)
        background.start { await recorder.run() }
        let router = RTMCore.Router(clock: clock, encoder: GatewayEventEncoder(), eventRecorder: recorder, logger: logger)
        var limits = MessageService.Limits()
        limits.offlineRetention = configuration.offlineRetention
        let messages = MessageService(broker: router, stores: stores, limits: limits, logger: logger)
        let sweeper = RetentionSweeper(stores: stores, clock: clock, limits: limits, interval: configuration.retentionSweepInterval,
                                       logger: logger)
        background.start { await sweeper.run() }
        var gatewayConfiguration = configuration.gateway
        gatewayConfiguration.peerAckTimeout = configuration.ackTimeout
        gatewayConfiguration.pingInterval = configuration.pingInterval
        let gateway = Gateway(messages: messages, apps: apps, configuration: gatewayConfiguration, logger: logger)
        var restConfiguration = RESTConfiguration()
        restConfiguration.ackTimeout = configuration.ackTimeout
        let rest = RESTAPI(messages: messages, apps: apps, eventRecorder: recorder, configuration: restConfiguration, logger: logger)
        return RTMApplication(configuration: configuration, router: router, messages: messages, apps: apps, stores: stores,
                              gateway: gateway, rest: rest, sweeper: sweeper, background: background, isReachable: isReachable,
                              bootstrap: bootstrap, boundPort: BoundPort(), logger: logger, clock: clock)
    }

    /// At most this many connections are open at once (`max_connections`, or the default that
    /// follows from the file-descriptor limit).
    public var connectionBudget: Int { configuration.maximumConnections ?? FileDescriptorLimit.defaultConnectionBudget() }

    /// The Hummingbird application serving REST, health, metrics and `GET /v1/ws`.
    public func makeHTTPApplication(onListening: @escaping @Sendable (String, Int) -> Void = { _, _ in })
        -> some ApplicationProtocol
    {
        let rest = self.rest
        let httpRouter = Hummingbird.Router(context: BasicRequestContext.self)
        rest.register(on: httpRouter)
        HealthRoutes(isReachable: isReachable).register(on: httpRouter)

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

    /// Runs the server until SIGINT/SIGTERM, then shuts down gracefully: clients are told
    /// (RECONNECTING / INTERRUPTED, close 1001) before the listener stops.
    public func run(onListening: @escaping @Sendable (String, Int) -> Void) async throws {
        let application = makeHTTPApplication(onListening: onListening)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: application), .init(service: SessionDrainService(router: router))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        await background.stop()
    }
}

/// Long-running tasks the application owns; stopped together, last.
public final class BackgroundWork: Sendable {
    private let tasks = Mutex<[Task<Void, Never>]>([])

    public init() {}

    func start(_ work: @escaping @Sendable () async -> Void) {
        let task = Task { await work() }
        tasks.withLock { $0.append(task) }
    }

    /// Cancels every task (the event writer writes what it holds first) and waits for them.
    public func stop() async {
        let running = tasks.withLock { tasks -> [Task<Void, Never>] in
            defer { tasks.removeAll() }
            return tasks
        }
        for task in running.reversed() {
            task.cancel()
            await task.value
        }
    }
}

/// Holds the port the listener bound (useful with port 0).
public final class BoundPort: Sendable {
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
    public func value() async -> Int {
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

/// On graceful shutdown, tells every client the server is going away and gives their queues a
/// moment to flush before the listener stops (it is registered last, so it shuts down first).
struct SessionDrainService: Service {
    let router: RTMCore.Router

    func run() async throws {
        try? await gracefulShutdown()
        router.terminateAll(.serverShutdown)
        try? await Task.sleep(for: .milliseconds(300))
    }
}
