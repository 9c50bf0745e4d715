import Foundation
import GRDB
import RTMCore

/// The embedded store: one SQLite file (WAL mode) in the data directory, with versioned
/// migrations applied when it opens. All SQL uses bound parameters.
public final class SQLiteStore: Sendable {
    let pool: DatabasePool

    /// Opens (creating if needed) `rtm.sqlite` in `directory` and migrates it to the current schema.
    public init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: directory.appendingPathComponent("rtm.sqlite").path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    /// Whether the database answers a trivial query.
    public func isReachable() async -> Bool {
        (try? await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }

    static var migrator: DatabaseMigrator {
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
        return migrator
    }
}

extension SQLiteStore: AppRegistry {
    public func app(_ id: AppID) async throws -> AppRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM app WHERE app_id = ?", arguments: [id.rawValue]).flatMap(Self.appRecord)
        }
    }

    public func allApps() async throws -> [AppRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM app ORDER BY created_at, app_id").compactMap(Self.appRecord)
        }
    }

    public func upsertApp(_ app: AppRecord) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO app (app_id, certificate, messaging_rate_limit, history_retention_days, created_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(app_id) DO UPDATE SET certificate = excluded.certificate,
                    messaging_rate_limit = excluded.messaging_rate_limit,
                    history_retention_days = excluded.history_retention_days
                """, arguments: [app.appID.rawValue, app.certificate, app.messagingRateLimit, app.historyRetentionDays,
                                 Int64(Date().timeIntervalSince1970 * 1000)])
        }
    }

    public func credential(customerID: String) async throws -> CustomerCredential? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM customer_credential WHERE customer_id = ?", arguments: [customerID])
                .map(Self.credentialRecord)
        }
    }

    public func allCredentials() async throws -> [CustomerCredential] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM customer_credential ORDER BY created_at, customer_id").map(Self.credentialRecord)
        }
    }

    public func upsertCredential(_ credential: CustomerCredential) async throws {
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
                         historyRetentionDays: row["history_retention_days"])
    }

    private static func credentialRecord(_ row: Row) -> CustomerCredential {
        let apps: String = row["apps"]
        return CustomerCredential(customerID: row["customer_id"], secretHash: row["secret_sha256"],
                                  apps: apps.split(separator: ",").map(String.init))
    }
}
