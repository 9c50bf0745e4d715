import Foundation
import Logging
import PostgresNIO
import RTMCluster
import RTMStorePostgres
import ServiceLifecycle
import Synchronization

/// A node's lease in `rtm_node` (docs/CLUSTER.md, "Nodes"), and the sweep that notices lost nodes.
///
/// - At start (``registerAtStart()``, before the node serves) it registers under a fresh
///   incarnation. A live lease under its id (another process, or this node killed a moment ago) is
///   waited out, at most one lease and one renewal, then taken over; if it is still renewed, the
///   start fails with ``NodeLeaseError/nodeIDInUse(_:)``. (The caller then tells the others to forget
///   the sessions of the id's previous run.)
/// - Every ``Settings/renewal`` the lease is extended to `now() + duration`, by PostgreSQL's
///   clock. If the row is gone (the others swept this node: it could not renew in time), the node
///   has been reported lost: ``onLeaseLost`` runs (the node ends its sessions, so that clients
///   reconnect elsewhere) and it registers again.
/// - Every renewal the node also sweeps: `DELETE … WHERE lease_expires_at < now() RETURNING`;
///   the node whose delete removed a row reports that node lost (``onNodeLost``), exactly once.
package final class NodeLease: Service {
    package struct Settings: Sendable {
        /// How long a lease lasts without renewal: a killed node is noticed within this plus one renewal.
        package var duration: Duration = .seconds(10)
        /// Between renewals (and sweeps); well under the duration.
        package var renewal: Duration = .seconds(3)
        package init() {}
    }

    package let nodeID: String
    private let store: PostgresStore
    private let settings: Settings
    private let logger: Logger
    private let onNodeLost: @Sendable (String) -> Void
    private let onLeaseLost: @Sendable () -> Void

    package init(nodeID: String, store: PostgresStore, settings: Settings = Settings(), logger: Logger = Logger(label: "rtm.cluster.lease"),
                 onNodeLost: @escaping @Sendable (String) -> Void, onLeaseLost: @escaping @Sendable () -> Void) {
        self.nodeID = nodeID
        self.store = store
        self.settings = settings
        self.logger = logger
        self.onNodeLost = onNodeLost
        self.onLeaseLost = onLeaseLost
    }

    private var leaseSeconds: Double { Double(settings.duration.components.seconds) + Double(settings.duration.components.attoseconds) / 1e18 }

    /// The incarnation ``registerAtStart()`` took.
    private let startIncarnation = Mutex<String?>(nil)

    /// Registers the node before it serves (see the type's notes); ``run()`` then renews this lease.
    package func registerAtStart() async throws {
        let incarnation = try await register()
        startIncarnation.withLock { $0 = incarnation }
    }

    /// Registers (unless ``registerAtStart()`` did), then renews and sweeps until cancelled or a graceful shutdown; at the end the
    /// lease is deleted (a node that stops is not a lost node).
    package func run() async throws {
        let registered: String
        if let started = startIncarnation.withLock({ $0 }) { registered = started } else { registered = try await register() }
        let last = await cancelWhenGracefulShutdown { await self.renewUntilCancelled(registered) }
        try? await query("DELETE FROM rtm_node WHERE node_id = \(nodeID) AND incarnation = \(last)")
    }

    /// Renews and sweeps every renewal interval; returns the incarnation held at the end. A node
    /// that cannot renew (PostgreSQL unreachable, a partition) for longer than its lease has been
    /// swept by the others: it ends its sessions once, as when it finds its row gone.
    private func renewUntilCancelled(_ registered: String) async -> String {
        var incarnation = registered
        var lastRenewed = ContinuousClock.now
        var ended = false
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.renewal)
            if Task.isCancelled { break }
            do {
                if try await !renew(incarnation) {
                    if !ended {
                        logger.error("cluster: this node's lease was swept (it could not renew in time); ending its sessions")
                        onLeaseLost()
                    }
                    incarnation = try await register()
                }
                lastRenewed = ContinuousClock.now
                ended = false
                try await sweep()
            } catch {
                logger.warning("cluster: renewing or sweeping the node lease failed: \(String(reflecting: error))")
                if !ended, ContinuousClock.now - lastRenewed > settings.duration {
                    logger.error("cluster: no lease renewal for longer than the lease; the others count this node lost: ending its sessions")
                    onLeaseLost()
                    ended = true
                }
            }
        }
        return incarnation
    }

    /// Takes the node's row under a fresh incarnation, waiting out a live lease of the same id.
    private func register() async throws -> String {
        let incarnation = UUID().uuidString.lowercased()
        let deadline = ContinuousClock.now + settings.duration + settings.renewal
        while true {
            let rows = try await store.clusterClient.query("""
                INSERT INTO rtm_node (node_id, incarnation, lease_expires_at) VALUES (\(nodeID), \(incarnation), now() + make_interval(secs => \(leaseSeconds)))
                ON CONFLICT (node_id) DO UPDATE SET incarnation = EXCLUDED.incarnation, started_at = now(),
                    lease_expires_at = EXCLUDED.lease_expires_at
                WHERE rtm_node.lease_expires_at < now()
                RETURNING incarnation
                """, logger: logger)
            var taken = false
            for try await _ in rows.decode(String.self) { taken = true }
            if taken { return incarnation }
            guard ContinuousClock.now < deadline else {
                throw NodeLeaseError.nodeIDInUse(nodeID)
            }
            logger.warning("cluster: node id \(nodeID) has a live lease (another process, or this node a moment ago); waiting for it to end")
            try await Task.sleep(for: settings.renewal)
        }
    }

    /// Extends the lease; `false` if the row of this incarnation is gone.
    private func renew(_ incarnation: String) async throws -> Bool {
        let rows = try await store.clusterClient.query("""
            UPDATE rtm_node SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
            WHERE node_id = \(nodeID) AND incarnation = \(incarnation) RETURNING node_id
            """, logger: logger)
        var renewed = false
        for try await _ in rows.decode(String.self) { renewed = true }
        return renewed
    }

    /// Deletes expired leases; reports each node whose row this delete removed.
    private func sweep() async throws {
        let rows = try await store.clusterClient.query("DELETE FROM rtm_node WHERE lease_expires_at < now() RETURNING node_id", logger: logger)
        for try await node in rows.decode(String.self) {
            logger.warning("cluster: node \(node) lost (its lease ran out)")
            onNodeLost(node)
        }
    }

    private func query(_ query: PostgresQuery) async throws {
        for try await _ in try await store.clusterClient.query(query, logger: logger) {}
    }
}

package enum NodeLeaseError: Error, CustomStringConvertible {
    case nodeIDInUse(String)

    package var description: String {
        switch self {
        case .nodeIDInUse(let node): "node id \(node) is held by a live node (its lease keeps being renewed): give each node its own id"
        }
    }
}
