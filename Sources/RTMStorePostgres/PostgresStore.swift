import Foundation
import Logging
import NIOSSL
import PostgresNIO
import RTMCore
import ServiceLifecycle

/// The stores on PostgreSQL (`--database-url postgres://…`): a pooled `PostgresClient` that runs as
/// a service, versioned migrations applied at start under an advisory lock, bound parameters only.
package final class PostgresStore: Sendable {
    /// The pool the stores' queries go through.
    package let client: PostgresClient
    /// A small pool of its own for a cluster node's bus and lease (connections opened on first use):
    /// their short statements never wait behind the stores' work (nor the messaging limit's claims),
    /// so a node under load still renews its lease in time (docs/CLUSTER.md).
    package let clusterClient: PostgresClient
    let logger: Logger
    let url: PostgresURL

    /// Settings for a connection of its own outside the pool (the cluster bus's listening connection).
    package func dedicatedConnectionConfiguration() throws -> PostgresConnection.Configuration {
        try url.connectionConfiguration()
    }

    /// - Parameter url: `postgres://user:password@host:port/database`, with libpq's `sslmode` and
    ///   `sslrootcert` parameters (default `sslmode=prefer`); see `docs/OPERATIONS.md`.
    package init(url: String, logger: Logger = Logger(label: "rtm.postgres")) throws {
        let parsed = try PostgresURL(url)
        var configuration = try parsed.clientConfiguration()
        configuration.options.maximumConnections = 8
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        configuration.options.maximumConnections = 3
        self.clusterClient = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.url = parsed
        logger.info("PostgreSQL at \(parsed.host):\(parsed.port), database \(parsed.database ?? parsed.username), sslmode=\(parsed.tlsMode.rawValue)")
    }

    /// This store as every seam the server needs.
    package var bundle: StoreBundle { StoreBundle(apps: self, offline: self, history: self, events: self, historyHandles: self) }

    /// Runs the connection pools until cancelled (or graceful shutdown when run in a `ServiceGroup`).
    package func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            group.addTask { await self.clusterClient.run() }
        }
    }

    /// Returns once one connection with the URL's settings (server, credentials, TLS) can be made,
    /// trying once a second for at most `limit` while the server is not there yet; throws
    /// ``PostgresStoreError/unreachable(_:)`` with the reason at once when trying again cannot help
    /// (an untrusted certificate, a refused login), else with the last failure at the limit.
    ///
    /// The pool itself retries failed connections without end and never reports why; `rtm serve`
    /// calls this first so that a wrong URL is a clear error at start, not a server that never starts.
    package func waitUntilConnectable(for limit: Duration) async throws {
        let configuration = try url.connectionConfiguration()
        let deadline = ContinuousClock.now + limit
        var attempt = 0
        while true {
            attempt += 1
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: attempt, logger: logger)
                try await connection.close()
                return
            } catch {
                let reason = String(reflecting: error)
                guard Self.mayPassLater(error), ContinuousClock.now + .seconds(1) < deadline else {
                    throw PostgresStoreError.unreachable(
                        "cannot connect to PostgreSQL at \(url.host):\(url.port) (sslmode=\(url.tlsMode.rawValue), attempts: \(attempt)): \(reason)")
                }
                logger.warning("PostgreSQL at \(url.host):\(url.port) not reachable yet (attempt \(attempt)): \(reason)")
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Whether a failed connection may succeed when tried again: not when the server refused the login
    /// (wrong password, no such database) or the TLS handshake failed (an untrusted certificate).
    private static func mayPassLater(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return true }
        if error.code == .server { return false }
        if error.code == .connectionError, error.underlying is NIOSSLError { return false }
        return true
    }

    /// Whether the database answers a trivial query.
    package func isReachable() async -> Bool {
        do {
            let rows = try await client.query("SELECT 1", logger: logger)
            for try await _ in rows {}
            return true
        } catch {
            return false
        }
    }

    /// Applies every migration not applied yet, all in one transaction, one migrator at a time.
    package func migrate() async throws {
        try await migrate(through: Int.max)
    }

    /// Applies the migrations not applied yet up to version `last` (tests build earlier schemas with it).
    package func migrate(through last: Int) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(84211)", logger: logger).drain()
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS rtm_schema_migration (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)
                """, logger: logger).drain()
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM rtm_schema_migration", logger: logger)
                .decode(Int.self) { applied.insert(version) }
            for (version, statements) in PostgresMigrations.all where !applied.contains(version) && version <= last {
                for statement in statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).drain() }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try await connection.query("INSERT INTO rtm_schema_migration (version, applied_at) VALUES (\(version), \(now))",
                                           logger: logger).drain()
            }
        }
    }
}

/// Why the PostgreSQL store could not start.
/// Why the PostgreSQL store could not be set up.
package enum PostgresStoreError: Error, CustomStringConvertible {
    /// The database URL cannot be used; the text says why.
    case invalidURL(String)
    /// No connection could be made with the URL's settings; the text says why.
    case unreachable(String)

    package var description: String {
        switch self {
        case .invalidURL(let reason): "database_url: \(reason)"
        case .unreachable(let reason): reason
        }
    }
}

extension PostgresStore: Service {}

extension PostgresRowSequence {
    /// Reads every row so that a server error surfaces (postgres-nio reports it only when rows are read).
    func drain() async throws {
        for try await _ in self {}
    }
}

/// The schema, one numbered step at a time; a step never changes once released.
enum PostgresMigrations {
    static let all: [(Int, [String])] = [
        (1, [
            """
            CREATE TABLE app (app_id TEXT PRIMARY KEY, certificate TEXT, messaging_rate_limit INTEGER,
                              history_retention_days INTEGER, created_at BIGINT NOT NULL)
            """,
            """
            CREATE TABLE customer_credential (customer_id TEXT PRIMARY KEY, secret_sha256 TEXT NOT NULL, apps TEXT NOT NULL,
                                              created_at BIGINT NOT NULL)
            """,
        ]),
        (2, [
            """
            CREATE TABLE offline_message (seq BIGSERIAL PRIMARY KEY, app_id TEXT NOT NULL, receiver TEXT NOT NULL,
                message_id TEXT NOT NULL, sender TEXT NOT NULL, kind INTEGER NOT NULL, body TEXT NOT NULL, description TEXT,
                server_ts BIGINT NOT NULL)
            """,
            "CREATE INDEX offline_message_receiver ON offline_message (app_id, receiver, seq)",
            "CREATE INDEX offline_message_time ON offline_message (server_ts)",
            """
            CREATE TABLE history_message (seq BIGSERIAL PRIMARY KEY, app_id TEXT NOT NULL, source TEXT NOT NULL,
                destination TEXT NOT NULL, message_type TEXT NOT NULL, payload TEXT NOT NULL, ts BIGINT NOT NULL)
            """,
            "CREATE INDEX history_source ON history_message (app_id, source, ts)",
            "CREATE INDEX history_destination ON history_message (app_id, destination, ts)",
            "CREATE INDEX history_time ON history_message (app_id, ts)",
            """
            CREATE TABLE event_log (seq BIGSERIAL PRIMARY KEY, app_id TEXT NOT NULL, feed TEXT NOT NULL, user_id TEXT NOT NULL,
                kind TEXT NOT NULL, channel TEXT, ts BIGINT NOT NULL)
            """,
            "CREATE INDEX event_log_feed ON event_log (app_id, feed, seq)",
        ]),
        // Issue 10: what an end user's token reaches on the REST API (RESTTokenScope); existing apps keep Agora's "app".
        // Written to be safe to re-run, so it can be renumbered when merged with other steps.
        (3, [
            "ALTER TABLE app ADD COLUMN IF NOT EXISTS rest_token_scope TEXT NOT NULL DEFAULT 'app'",
        ]),
        // Payloads become the UTF-8 bytes of their text (see `PostgresStoredText`): TEXT refuses U+0000.
        (4, [
            """
            ALTER TABLE offline_message ALTER COLUMN body TYPE BYTEA USING convert_to(body, 'UTF8'),
                ALTER COLUMN description TYPE BYTEA USING convert_to(description, 'UTF8')
            """,
            "ALTER TABLE history_message ALTER COLUMN payload TYPE BYTEA USING convert_to(payload, 'UTF8')",
        ]),
        // Issue 12, cluster mode (docs/CLUSTER.md): bus events too large for a notification, by reference.
        (5, [
            """
            CREATE TABLE IF NOT EXISTS rtm_bus_body (id BIGSERIAL PRIMARY KEY, body BYTEA NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now())
            """,
            "CREATE INDEX IF NOT EXISTS rtm_bus_body_time ON rtm_bus_body (created_at)",
        ]),
        // Issue 12: the nodes of a cluster and their leases (docs/CLUSTER.md, "Nodes").
        (6, [
            """
            CREATE TABLE IF NOT EXISTS rtm_node (node_id TEXT PRIMARY KEY, incarnation TEXT NOT NULL,
                started_at TIMESTAMPTZ NOT NULL DEFAULT now(), lease_expires_at TIMESTAMPTZ NOT NULL)
            """,
        ]),
        // Issue 12: the per-app messaging limit of a cluster, one token bucket per app (docs/CLUSTER.md).
        (7, [
            """
            CREATE TABLE IF NOT EXISTS rtm_rate_bucket (app_id TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL,
                refilled_at TIMESTAMPTZ NOT NULL)
            """,
        ]),
        (8, [
            """
            CREATE TABLE IF NOT EXISTS rtm_history_handle (handle TEXT PRIMARY KEY, app_id TEXT NOT NULL, query TEXT NOT NULL,
                expires_at BIGINT NOT NULL)
            """,
            "CREATE INDEX IF NOT EXISTS rtm_history_handle_expiry ON rtm_history_handle (expires_at)",
        ]),
    ]
}
