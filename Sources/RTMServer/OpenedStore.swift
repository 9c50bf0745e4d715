import Foundation
import Logging
import RTMCore
import RTMStorePostgres
import RTMStoreSQLite

/// The store a configuration names, opened: PostgreSQL (its pool the first service of `services`,
/// so it stops last; migrations applied) when a database URL is set, else SQLite in the data directory. `rtm serve` and the CLI's
/// app and credential commands both open it here, so they reach the same database the same way.
package struct OpenedStore: Sendable {
    package let stores: StoreBundle
    /// The PostgreSQL store, when the database is PostgreSQL (a cluster's bus shares its pool).
    package let postgres: PostgresStore?
    /// Whether the database answers (for `/health`).
    package let isReachable: @Sendable () async -> Bool

    /// How long `open` waits for PostgreSQL to accept a connection (a database starting beside the
    /// server may need a moment) before it gives up with the reason.
    package static let postgresStartLimit: Duration = .seconds(30)

    package static func open(databaseURL: String?, dataDirectory: String, services: ServiceRunner,
                             logger: Logger) async throws -> OpenedStore {
        guard let databaseURL else {
            let store = try SQLiteStore(directory: URL(fileURLWithPath: dataDirectory, isDirectory: true))
            return OpenedStore(stores: store.bundle, postgres: nil, isReachable: { await store.isReachable() })
        }
        let store = try PostgresStore(url: databaseURL, logger: logger)
        do {
            try await store.waitUntilConnectable(for: postgresStartLimit)
        } catch {
            throw ConfigurationError(key: "database_url", problem: "\(error)")
        }
        await services.add(CancelledOnShutdownService(description: "PostgreSQL client") { await store.run() })
        do {
            try await store.migrate()
        } catch {
            throw ConfigurationError(key: "database_url", problem: "cannot prepare the PostgreSQL database: \(String(reflecting: error))")
        }
        return OpenedStore(stores: store.bundle, postgres: store, isReachable: { await store.isReachable() })
    }
}
