import Foundation
import GRDB
import RTMCore

/// The embedded store: one SQLite file (WAL mode) in the data directory, with versioned
/// migrations applied when it opens. All SQL uses bound parameters.
package final class SQLiteStore: Sendable {
    /// This store as every seam the server needs.
    package var bundle: StoreBundle { StoreBundle(apps: self, offline: self, history: self, events: self) }

    let pool: DatabasePool

    /// Opens (creating if needed) `rtm.sqlite` in `directory` and migrates it to the current schema.
    ///
    /// The database holds app certificates in clear, so the directory is made private to the
    /// server's user (0700) and the database files readable by it alone (0600), including those
    /// of a data directory created with wider permissions by an earlier version.
    package init(directory: URL) throws {
        let path = try DataDirectoryPermissions.prepare(directory: directory, databaseName: "rtm.sqlite")
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    /// Whether the database answers a trivial query.
    package func isReachable() async -> Bool {
        (try? await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }

    /// The schema, one named step at a time; a step never changes once released.
    package static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-apps-and-credentials") { db in
            try db.execute(sql: """
                CREATE TABLE app (
                    app_id TEXT PRIMARY KEY NOT NULL,
                    certificate TEXT,
                    messaging_rate_limit INTEGER,
                    history_retention_days INTEGER,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE customer_credential (
                    customer_id TEXT PRIMARY KEY NOT NULL,
                    secret_sha256 TEXT NOT NULL,
                    apps TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2-offline-history-events") { db in
            try db.execute(sql: """
                CREATE TABLE offline_message (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    app_id TEXT NOT NULL,
                    receiver TEXT NOT NULL,
                    message_id TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    kind INTEGER NOT NULL,          -- 0 text, 1 raw
                    body TEXT NOT NULL,
                    description TEXT,
                    server_ts INTEGER NOT NULL
                );
                CREATE INDEX offline_message_receiver ON offline_message (app_id, receiver, seq);
                CREATE INDEX offline_message_time ON offline_message (server_ts);
                CREATE TABLE history_message (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    app_id TEXT NOT NULL,
                    source TEXT NOT NULL,
                    destination TEXT NOT NULL,
                    message_type TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    ts INTEGER NOT NULL
                );
                CREATE INDEX history_source ON history_message (app_id, source, ts);
                CREATE INDEX history_destination ON history_message (app_id, destination, ts);
                CREATE INDEX history_time ON history_message (app_id, ts);
                CREATE TABLE event_log (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    app_id TEXT NOT NULL,
                    feed TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    channel TEXT,
                    ts INTEGER NOT NULL
                );
                CREATE INDEX event_log_feed ON event_log (app_id, feed, seq);
                """)
        }
        // Issue 10: what an end user's token reaches on the REST API (RESTTokenScope); existing apps keep Agora's "app".
        migrator.registerMigration("v3-app-rest-token-scope") { db in
            try db.execute(sql: "ALTER TABLE app ADD COLUMN rest_token_scope TEXT NOT NULL DEFAULT 'app'")
        }
        migrator.registerMigration("v4-payloads-as-utf8-blobs") { db in
            // Payloads become BLOBs of their UTF-8 bytes (see ``StoredText``): each table is rebuilt with
            // BLOB columns and its rows copied over, CAST(… AS BLOB) keeping their bytes and their seq.
            try db.execute(sql: """
                CREATE TABLE offline_message_v4 (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    app_id TEXT NOT NULL,
                    receiver TEXT NOT NULL,
                    message_id TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    kind INTEGER NOT NULL,          -- 0 text, 1 raw
                    body BLOB NOT NULL,             -- UTF-8 bytes
                    description BLOB,               -- UTF-8 bytes
                    server_ts INTEGER NOT NULL
                );
                INSERT INTO offline_message_v4 (seq, app_id, receiver, message_id, sender, kind, body, description, server_ts)
                    SELECT seq, app_id, receiver, message_id, sender, kind, CAST(body AS BLOB), CAST(description AS BLOB), server_ts
                    FROM offline_message;
                DROP TABLE offline_message;
                ALTER TABLE offline_message_v4 RENAME TO offline_message;
                CREATE INDEX offline_message_receiver ON offline_message (app_id, receiver, seq);
                CREATE INDEX offline_message_time ON offline_message (server_ts);
                CREATE TABLE history_message_v4 (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    app_id TEXT NOT NULL,
                    source TEXT NOT NULL,
                    destination TEXT NOT NULL,
                    message_type TEXT NOT NULL,
                    payload BLOB NOT NULL,          -- UTF-8 bytes
                    ts INTEGER NOT NULL
                );
                INSERT INTO history_message_v4 (seq, app_id, source, destination, message_type, payload, ts)
                    SELECT seq, app_id, source, destination, message_type, CAST(payload AS BLOB), ts FROM history_message;
                DROP TABLE history_message;
                ALTER TABLE history_message_v4 RENAME TO history_message;
                CREATE INDEX history_source ON history_message (app_id, source, ts);
                CREATE INDEX history_destination ON history_message (app_id, destination, ts);
                CREATE INDEX history_time ON history_message (app_id, ts);
                """)
        }
        return migrator
    }
}

extension SQLiteStore: AppRegistry {
    package func app(_ id: AppID) async throws -> AppRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM app WHERE app_id = ?", arguments: [id.rawValue]).flatMap(Self.appRecord)
        }
    }

    package func allApps() async throws -> [AppRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM app ORDER BY created_at, app_id").compactMap(Self.appRecord)
        }
    }

    package func upsertApp(_ app: AppRecord) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO app (app_id, certificate, messaging_rate_limit, history_retention_days, rest_token_scope, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(app_id) DO UPDATE SET certificate = excluded.certificate,
                    messaging_rate_limit = excluded.messaging_rate_limit,
                    history_retention_days = excluded.history_retention_days,
                    rest_token_scope = excluded.rest_token_scope
                """, arguments: [app.appID.rawValue, app.certificate, app.messagingRateLimit, app.historyRetentionDays,
                                 app.restTokenScope.rawValue, Int64(Date().timeIntervalSince1970 * 1000)])
        }
    }

    package func credential(customerID: String) async throws -> CustomerCredential? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM customer_credential WHERE customer_id = ?", arguments: [customerID])
                .map(Self.credentialRecord)
        }
    }

    package func allCredentials() async throws -> [CustomerCredential] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM customer_credential ORDER BY created_at, customer_id").map(Self.credentialRecord)
        }
    }

    package func upsertCredential(_ credential: CustomerCredential) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO customer_credential (customer_id, secret_sha256, apps, created_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(customer_id) DO UPDATE SET secret_sha256 = excluded.secret_sha256, apps = excluded.apps
                """, arguments: [credential.customerID, credential.secretHash, credential.apps.joined(separator: ","),
                                 Int64(Date().timeIntervalSince1970 * 1000)])
        }
    }

    private static func appRecord(_ row: Row) -> AppRecord? {
        guard let id = AppID(row["app_id"]) else { return nil }
        return AppRecord(appID: id, certificate: row["certificate"], messagingRateLimit: row["messaging_rate_limit"],
                         historyRetentionDays: row["history_retention_days"],
                         restTokenScope: RESTTokenScope(storedValue: row["rest_token_scope"]))
    }

    private static func credentialRecord(_ row: Row) -> CustomerCredential {
        let apps: String = row["apps"]
        return CustomerCredential(customerID: row["customer_id"], secretHash: row["secret_sha256"],
                                  apps: apps.split(separator: ",").map(String.init))
    }
}
