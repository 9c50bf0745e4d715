import Logging
import ServiceLifecycle
import Synchronization

/// One `ServiceGroup`, run in a task. Services join it in the order they become ready (the database
/// client before anything that queries it); the group starts with the first one. A graceful
/// shutdown (a configured signal, or ``shutdown()``) stops them in reverse order: each is told only
/// once every service added after it has returned. Past `maximumShutdownDuration` the services
/// still running are cancelled.
///
/// `rtm serve`, servers embedded in tests and the CLI's app commands all run their services here.
package final class ServiceRunner: Sendable {
    private enum State: Sendable {
        case idle
        case running(ServiceGroup, Task<Void, any Error>)
    }

    private let state = Mutex(State.idle)
    private let stopsOnSignals: Bool
    private let maximumShutdownDuration: Duration
    private let logger: Logger

    /// - Parameters:
    ///   - stopsOnSignals: whether SIGTERM and SIGINT start the graceful shutdown (the executable).
    ///   - maximumShutdownDuration: how long the graceful shutdown may take before the rest is cancelled.
    package init(stopsOnSignals: Bool, maximumShutdownDuration: Duration, logger: Logger) {
        self.stopsOnSignals = stopsOnSignals
        self.maximumShutdownDuration = maximumShutdownDuration
        self.logger = logger
    }

    /// Adds `service` after those added before it (so it stops before them). The first one starts the
    /// group; once a shutdown has begun, nothing more is started.
    package func add(_ service: any Service) async {
        let joining = state.withLock { state -> ServiceGroup? in
            switch state {
            case .running(let group, _):
                return group
            case .idle:
                var configuration = ServiceGroupConfiguration(
                    services: [.init(service: service)],
                    gracefulShutdownSignals: stopsOnSignals ? [.sigterm, .sigint] : [],
                    logger: logger)
                configuration.maximumGracefulShutdownDuration = maximumShutdownDuration
                let group = ServiceGroup(configuration: configuration)
                state = .running(group, Task { try await group.run() })
                return nil
            }
        }
        await joining?.addServiceUnlessShutdown(service)
    }

    /// Waits until every service has stopped (after a graceful shutdown); rethrows a service's error.
    package func wait() async throws {
        guard case .running(_, let task) = state.withLock({ $0 }) else { return }
        try await task.value
    }

    /// Starts the graceful shutdown (what SIGTERM does) and waits until every service has stopped.
    package func shutdown() async throws {
        guard case .running(let group, _) = state.withLock({ $0 }) else { return }
        await group.triggerGracefulShutdown()
        try await wait()
    }
}
