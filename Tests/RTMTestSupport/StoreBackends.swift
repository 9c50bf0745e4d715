import Foundation
import Logging
import PostgresNIO
import RTMCore
import RTMStorePostgres
import RTMStoreSQLite
import Testing

/// The three implementations of the store seams; every one runs the same conformance suite.
package enum StoreBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory, sqlite, postgres

    package var testDescription: String { rawValue }

    /// The PostgreSQL server the test command started (see `scripts/with-postgres.sh`).
    package static var postgresAdminURL: String? { ProcessInfo.processInfo.environment["RTM_TEST_POSTGRES_URL"] }

    /// Runs `body` with fresh, empty stores of this backend.
    package func withStores<T>(_ body: (StoreBundle) async throws -> T) async throws -> T {
        switch self {
        case .memory:
            return try await body(.inMemory())
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rtm-store-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            return try await body(try SQLiteStore(directory: directory).bundle)
        case .postgres:
            let url = try await Self.freshPostgresDatabase()
            let store = try PostgresStore(url: url)
            let running = Task { await store.run() }
            defer { running.cancel() }
            try await store.migrate()
            return try await body(store.bundle)
        }
    }

    /// Runs `body` with a plain client of the database at `url` (a URL from ``freshPostgresDatabase()``).
    package static func withPostgresClient<T>(_ url: String, _ body: (PostgresClient) async throws -> T) async throws -> T {
        let components = try #require(URLComponents(string: url))
        let client = PostgresClient(configuration: .init(host: components.host ?? "127.0.0.1", port: components.port ?? 5432,
                                                         username: components.user ?? "postgres", password: nil,
                                                         database: String(components.path.dropFirst()), tls: .disable),
                                    backgroundLogger: Logger(label: "rtm.test.postgres"))
        let running = Task { await client.run() }
        defer { running.cancel() }
        return try await body(client)
    }

    /// Creates an empty database on the test server and returns its URL.
    package static func freshPostgresDatabase() async throws -> String {
        guard let admin = postgresAdminURL, var components = URLComponents(string: admin) else {
            Issue.record("RTM_TEST_POSTGRES_URL is not set: run scripts/test.sh (or scripts/with-postgres.sh swift test), which starts PostgreSQL")
            throw PostgresStoreError.invalidURL("RTM_TEST_POSTGRES_URL is not set")
        }
        let name = "rtm_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let client = PostgresClient(configuration: .init(host: components.host ?? "127.0.0.1", port: components.port ?? 5432,
                                                         username: components.user ?? "postgres", password: nil,
                                                         database: "postgres", tls: .disable),
                                    backgroundLogger: Logger(label: "rtm.test.postgres"))
        let running = Task { await client.run() }
        defer { running.cancel() }
        for try await _ in try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)")) {}
        components.path = "/" + name
        return components.string!
    }
}
