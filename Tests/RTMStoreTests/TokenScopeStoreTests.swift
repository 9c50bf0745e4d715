import Foundation
import GRDB
import PostgresNIO
import RTMCore
@testable import RTMStorePostgres
@testable import RTMStoreSQLite
import RTMTestSupport
import Testing

/// The per-app `rest_token_scope` in every store, its migration on existing databases, and the
/// history filter that gives a token holder only its own messages (issue 10, item 4).
@Suite struct TokenScopeStoreTests {
    static let appA = AppID("970CA35de60c44645bbae8a215061b33")!

    @Test(arguments: StoreBackend.allCases)
    func appsKeepTheirTokenScope(_ backend: StoreBackend) async throws {
        try await backend.withStores { stores in
            try await stores.apps.upsertApp(AppRecord(appID: Self.appA, certificate: nil))
            #expect(try await stores.apps.app(Self.appA)?.restTokenScope == .app, "the default is Agora's")
            try await stores.apps.upsertApp(AppRecord(appID: Self.appA, certificate: nil, restTokenScope: .user))
            #expect(try await stores.apps.app(Self.appA)?.restTokenScope == .user)
            #expect(try await stores.apps.allApps().map(\.restTokenScope) == [.user])
            try await stores.apps.upsertApp(AppRecord(appID: Self.appA, certificate: nil, restTokenScope: .app))
            #expect(try await stores.apps.app(Self.appA)?.restTokenScope == .app, "the upsert replaces it")
        }
    }

    /// `participant`: what the user sent, and peer messages to it; not a channel named like it.
    @Test(arguments: StoreBackend.allCases)
    func historyFilterOfAParticipant(_ backend: StoreBackend) async throws {
        try await backend.withStores { stores in
            let records = [
                HistoryRecord(appID: Self.appA, source: "alice", destination: "bob", kind: .peerMessage, payload: "a-b", timestamp: 100),
                HistoryRecord(appID: Self.appA, source: "bob", destination: "mallory", kind: .peerMessage, payload: "b-m", timestamp: 200),
                HistoryRecord(appID: Self.appA, source: "mallory", destination: "alice", kind: .peerMessage, payload: "m-a", timestamp: 300),
                HistoryRecord(appID: Self.appA, source: "carol", destination: "lobby", kind: .channelMessage, payload: "c-lobby", timestamp: 400),
                HistoryRecord(appID: Self.appA, source: "mallory", destination: "lobby", kind: .channelMessage, payload: "m-lobby", timestamp: 500),
                HistoryRecord(appID: Self.appA, source: "carol", destination: "mallory", kind: .channelMessage, payload: "c-#mallory", timestamp: 600),
            ]
            for record in records { try await stores.history.append(record) }
            func payloads(source: String?, destination: String?, participant: String?) async throws -> [String] {
                let filter = HistoryFilter(source: source, destination: destination, start: 0, end: 1_000, participant: participant)
                let found = try await stores.history.query(filter, in: Self.appA, ascending: true, offset: 0, limit: 100).map(\.payload)
                #expect(try await stores.history.count(filter, in: Self.appA) == found.count)
                #expect(found == records.filter { filter.matches($0) }.map(\.payload), "the store agrees with HistoryFilter.matches")
                return found
            }
            #expect(try await payloads(source: nil, destination: "mallory", participant: nil) == ["b-m", "c-#mallory"])
            #expect(try await payloads(source: nil, destination: "mallory", participant: "mallory") == ["b-m"])
            #expect(try await payloads(source: "mallory", destination: nil, participant: "mallory") == ["m-a", "m-lobby"])
            #expect(try await payloads(source: nil, destination: "lobby", participant: "mallory") == ["m-lobby"])
            #expect(try await payloads(source: "alice", destination: nil, participant: "mallory") == [])
            #expect(try await payloads(source: "alice", destination: nil, participant: nil) == ["a-b"])
            #expect(try await payloads(source: "bob", destination: nil, participant: "mallory") == ["b-m"])
        }
    }

    /// A database made before the setting existed keeps its apps, each with Agora's `app`.
    @Test func sqliteMigratesAnExistingDatabase() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rtm-scope-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let old = try DatabaseQueue(path: directory.appendingPathComponent("rtm.sqlite").path)
            try SQLiteStore.migrator.migrate(old, upTo: "v2-offline-history-events")
            try await old.write { db in
                try db.execute(sql: "INSERT INTO app (app_id, certificate, created_at) VALUES (?, NULL, 1)", arguments: [Self.appA.rawValue])
            }
            try old.close()
        }
        let store = try SQLiteStore(directory: directory)
        #expect(try await store.app(Self.appA) == AppRecord(appID: Self.appA, certificate: nil, restTokenScope: .app))
        try await store.upsertApp(AppRecord(appID: Self.appA, certificate: nil, restTokenScope: .user))
        #expect(try await store.app(Self.appA)?.restTokenScope == .user)
    }

    @Test func postgresMigratesAnExistingDatabase() async throws {
        let store = try PostgresStore(url: try await StoreBackend.freshPostgresDatabase())
        let running = Task { await store.run() }
        defer { running.cancel() }
        // The schema as it was before the setting: the steps up to 2, recorded as applied.
        for (version, statements) in PostgresMigrations.all where version <= 2 {
            for statement in statements { try await store.client.query(PostgresQuery(unsafeSQL: statement)).drain() }
            if version == 1 {
                try await store.client.query("CREATE TABLE rtm_schema_migration (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)").drain()
            }
            try await store.client.query("INSERT INTO rtm_schema_migration (version, applied_at) VALUES (\(version), 1)").drain()
        }
        try await store.client.query("INSERT INTO app (app_id, certificate, created_at) VALUES (\(Self.appA.rawValue), NULL, 1)").drain()
        try await store.migrate()
        #expect(try await store.app(Self.appA) == AppRecord(appID: Self.appA, certificate: nil, restTokenScope: .app))
        try await store.migrate()   // applying again changes nothing
        try await store.upsertApp(AppRecord(appID: Self.appA, certificate: nil, restTokenScope: .user))
        #expect(try await store.app(Self.appA)?.restTokenScope == .user)
    }
}
