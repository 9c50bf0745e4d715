import Logging
import NIOCore
import PostgresNIO
import RTMCluster
import RTMStorePostgres
import ServiceLifecycle
import Synchronization

/// The cluster bus on PostgreSQL (docs/CLUSTER.md): `NOTIFY` on one channel, `rtm_bus`, which every
/// node `LISTEN`s to on a connection of its own. PostgreSQL delivers notifications in commit order,
/// so every node sees the same sequence.
///
/// - Publishing goes through the store's pool, one transaction per call: when every event fits in a
///   notification, one statement (`pg_notify` over the array, one round trip); else a transaction in
///   which a body too large for a notification (``BusNotification``) is inserted into `rtm_bus_body`
///   and the notification carries its id.
/// - Listening runs as a service. postgres-nio does not listen again after its connection drops,
///   and notifications sent meanwhile are lost: the bus reconnects (with backoff), `LISTEN`s, and
///   then delivers ``BusDelivery/resync`` so that the consumer rebuilds its state from the tables.
///   The listening connection is checked with a query every ``Settings/keepAliveInterval`` (the
///   pool's keep-alive does not reach it): a silent dead link is noticed like a dropped one.
/// - What waits for the consumer is bounded (``Settings/maximumWaiting``); past it, events are
///   dropped and a ``BusDelivery/resync`` follows, never a silent gap.
package final class PostgresBus: ClusterBus, Service {
    /// The notification channel every node listens to.
    package static let channel = "rtm_bus"

    package struct Settings: Sendable {
        /// Between checks of the listening connection.
        package var keepAliveInterval: Duration = .seconds(5)
        /// The longest wait before connecting again (the first retry is after 250 ms, doubling).
        package var maximumReconnectDelay: Duration = .seconds(5)
        /// Deliveries waiting for the consumer, past which events are dropped and a resync follows.
        package var maximumWaiting = 100_000
        /// Age past which stored bodies are deleted, by every node's listener about this often (every
        /// node's consumer read them long before).
        package var bodyRetention: Duration = .seconds(60)

        package init() {}
    }

    package let nodeID: String
    package let deliveries: AsyncStream<BusDelivery>
    private let continuation: AsyncStream<BusDelivery>.Continuation
    private let store: PostgresStore
    private let settings: Settings
    private let logger: Logger
    private let sequence = Atomic<UInt64>(0)
    /// Events were dropped since the last resync: the next delivery is a resync.
    private let mustResync = Atomic<Bool>(false)
    private let connectionIDs = Atomic<Int>(1_000_000)

    package init(nodeID: String, store: PostgresStore, settings: Settings = Settings(), logger: Logger = Logger(label: "rtm.cluster.bus")) {
        precondition(NodeName.isValid(nodeID), "node id \(nodeID) breaks NodeName's rule")
        self.nodeID = nodeID
        self.store = store
        self.settings = settings
        self.logger = logger
        (deliveries, continuation) = AsyncStream.makeStream(of: BusDelivery.self, bufferingPolicy: .bufferingOldest(settings.maximumWaiting))
    }

    // MARK: Publishing

    package func publish(_ bodies: [String]) async throws {
        guard !bodies.isEmpty else { return }
        let client = store.clusterClient
        let envelopes = bodies.map { BusEnvelope(origin: nodeID, sequence: sequence.add(1, ordering: .relaxed).newValue, body: $0) }
        let inline = envelopes.compactMap(BusNotification.inlinePayload)
        if inline.count == envelopes.count {
            // All fit: one statement, one round trip, one implicit transaction (all or none, in order).
            for try await _ in try await client.query(
                "SELECT pg_notify(\(Self.channel), payload) FROM unnest(\(inline)::text[]) WITH ORDINALITY AS sent(payload, position)",
                logger: logger) {}
            return
        }
        try await client.withTransaction(logger: logger) { connection in
            for envelope in envelopes {
                let body = envelope.body
                let payload: String
                if let inline = BusNotification.inlinePayload(envelope) {
                    payload = inline
                } else {
                    let rows = try await connection.query(
                        "INSERT INTO rtm_bus_body (body) VALUES (\(ByteBuffer(string: body))) RETURNING id", logger: logger)
                    var bodyID: Int64?
                    for try await id in rows.decode(Int64.self) { bodyID = id }
                    guard let bodyID else { throw PostgresBusError.bodyNotStored }
                    payload = BusNotification.referencePayload(origin: nodeID, sequence: envelope.sequence, bodyID: bodyID)
                }
                for try await _ in try await connection.query("SELECT pg_notify(\(Self.channel), \(payload))", logger: logger) {}
            }
        }
    }

    // MARK: Listening

    /// The listening connection's `application_name` (`pg_stat_activity` shows which node it is).
    package static func applicationName(of nodeID: String) -> String { "rtm-bus-\(nodeID)" }

    /// Listens until cancelled or a graceful shutdown, connecting again whenever the connection is lost.
    package func run() async throws {
        await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                do {
                    try await self.listenOnce { failures = 0 }
                } catch {
                    if Task.isCancelled { break }
                    self.logger.warning("cluster bus: listening connection lost, connecting again: \(String(reflecting: error))")
                }
                failures += 1
                let delay = min(Duration.milliseconds(250) * (1 << min(failures - 1, 8)), self.settings.maximumReconnectDelay)
                try? await Task.sleep(for: delay)
            }
        }
        continuation.finish()
    }

    /// One listening connection's life: connect, `LISTEN`, announce a resync, deliver until it fails.
    private func listenOnce(listening: () -> Void) async throws {
        var configuration = try store.dedicatedConnectionConfiguration()
        configuration.options.additionalStartupParameters.append(("application_name", Self.applicationName(of: nodeID)))
        let connection = try await PostgresConnection.connect(configuration: configuration,
                                                              id: connectionIDs.add(1, ordering: .relaxed).newValue, logger: logger)
        defer { Task { try? await connection.close() } }
        try await connection.listen(on: Self.channel) { notifications in
            listening()
            mustResync.store(false, ordering: .relaxed)
            deliver(.resync)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.keepAlive(connection) }
                group.addTask {
                    for try await notification in notifications { try await self.received(notification.payload) }
                    throw PostgresBusError.listeningEnded
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// Checks the listening connection every keep-alive interval; throws when it no longer answers.
    /// About once per ``Settings/bodyRetention`` it also deletes the stored bodies that old.
    private func keepAlive(_ connection: PostgresConnection) async throws {
        let ticksPerCleanup = max(1, Int(settings.bodyRetention / settings.keepAliveInterval))
        var ticks = 0
        while true {
            try await Task.sleep(for: settings.keepAliveInterval)
            for try await _ in try await connection.query("SELECT 1", logger: logger) {}
            ticks += 1
            if ticks % ticksPerCleanup == 0 {
                do { try await deleteOldBodies() } catch { logger.warning("cluster bus: deleting old bodies failed: \(error)") }
            }
        }
    }

    private func received(_ payload: String) async throws {
        switch BusNotification.parse(payload) {
        case .inline(let envelope):
            deliver(.event(envelope))
        case .reference(let origin, let sequence, let bodyID):
            let rows = try await store.clusterClient.query("SELECT body FROM rtm_bus_body WHERE id = \(bodyID)", logger: logger)
            var body: String?
            for try await bytes in rows.decode(ByteBuffer.self) { body = String(buffer: bytes) }
            if let body {
                deliver(.event(BusEnvelope(origin: origin, sequence: sequence, body: body)))
            } else {
                logger.error("cluster bus: body \(bodyID) from \(origin) is gone; resynchronising")
                mustResync.store(true, ordering: .relaxed)
            }
        case nil:
            logger.warning("cluster bus: ignored a notification not in the bus's format (\(payload.utf8.count) bytes)")
        }
    }

    /// Hands `delivery` to the consumer; a full buffer drops it and owes the consumer a resync.
    private func deliver(_ delivery: BusDelivery) {
        if mustResync.load(ordering: .relaxed) {
            guard case .enqueued = continuation.yield(.resync) else { return }
            mustResync.store(false, ordering: .relaxed)
        }
        if case .dropped = continuation.yield(delivery) {
            mustResync.store(true, ordering: .relaxed)
            logger.error("cluster bus: \(settings.maximumWaiting) deliveries wait for the consumer; dropping and resynchronising")
        }
    }

    // MARK: Housekeeping

    /// Deletes stored bodies older than ``Settings/bodyRetention`` (any node may; it is idempotent).
    package func deleteOldBodies() async throws {
        let seconds = Int(settings.bodyRetention.components.seconds)
        for try await _ in try await store.clusterClient.query(
            "DELETE FROM rtm_bus_body WHERE created_at < now() - make_interval(secs => \(seconds))", logger: logger) {}
    }
}

/// Why the bus failed.
package enum PostgresBusError: Error {
    /// The insert of a large body returned no id.
    case bodyNotStored
    /// The notification sequence ended without an error (the connection closed).
    case listeningEnded
}
