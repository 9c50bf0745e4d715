import Foundation
import GRDB
import PostgresNIO
import RTMCore
import RTMStorePostgres
import RTMStoreSQLite
import RTMTestSupport
import Testing

/// Databases written by earlier versions open with the current code and read back intact: rows of the
/// schema whose payload columns were TEXT come back byte for byte after the payload migration, keep
/// their order, and take new payloads (U+0000 included) after them.
@Suite struct StoreMigrationTests {
    static let app = AppID("970CA35de60c44645bbae8a215061b33")!
    static let alice = UserID("alice")!, bob = UserID("bob")!

    /// What an earlier version could hold: every sample that has no U+0000 (a TEXT column could not keep one).
    static let oldTexts: [String] = FidelitySamples.all.filter { !$0.utf8.contains(0) }
        + [String(String.UnicodeScalarView(FidelitySamples.controls.unicodeScalars.dropFirst()))]

    /// Reads everything back through the store and checks it against ``oldTexts``, then adds a new
    /// message and record holding U+0000 and checks they come after the old ones.
    static func expectOldRowsIntact(_ stores: StoreBundle) async throws {
        let pending = try await stores.offline.pending(for: bob, in: app, notBefore: 0)
        let texts = pending.compactMap { if case .text(let text) = $0.content { text } else { nil } }
        let descriptions = pending.compactMap { if case .raw(_, let description) = $0.content { description } else { nil } }
        #expect(texts.map(FidelitySamples.bytes) == oldTexts.map(FidelitySamples.bytes))
        #expect(descriptions.map(FidelitySamples.bytes) == oldTexts.map(FidelitySamples.bytes))
        #expect(pending.compactMap { if case .raw(let base64, _) = $0.content { base64 } else { nil } }.allSatisfy { $0 == "AQI=" })
        let filter = HistoryFilter(source: "alice", destination: nil, start: 0, end: .max)
        let history = try await stores.history.query(filter, in: app, ascending: true, offset: 0, limit: 100)
        #expect(history.map { Array($0.payload.utf8) } == oldTexts.map(FidelitySamples.bytes))

        try await stores.offline.store(StoredPeerMessage(messageID: "new", appID: app, from: alice, to: bob, content: .text("a\u{0}b"),
                                                         serverTimestamp: 1), limit: 1_000)
        try await stores.history.append(HistoryRecord(appID: app, source: "alice", destination: "bob", kind: .peerMessage,
                                                      payload: "a\u{0}b", timestamp: 1_000_000))
        let after = try await stores.offline.pending(for: bob, in: app, notBefore: 0)
        #expect(after.last?.messageID == "new" && after.last?.content == .text("a\u{0}b"), "a new message comes after the migrated ones")
        let newHistory = try await stores.history.query(filter, in: app, ascending: true, offset: 0, limit: 100)
        #expect(FidelitySamples.bytes(newHistory.last?.payload) == Array("a\u{0}b".utf8))
    }

    @Test func sqliteDatabaseOfTheTextSchemaMigrates() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rtm-migration-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("rtm.sqlite").path
        // The database as the release before the payload migration left it: its schema, its rows bound as TEXT.
        let old = try DatabasePool(path: path)
        try SQLiteStore.migrator.migrate(old, upTo: "v3-app-rest-token-scope")
        try await old.write { db in
            for (index, text) in Self.oldTexts.enumerated() {
                try db.execute(sql: """
                    INSERT INTO offline_message (app_id, receiver, message_id, sender, kind, body, description, server_ts)
                    VALUES (?, 'bob', ?, 'alice', 0, ?, NULL, ?), (?, 'bob', ?, 'alice', 1, 'AQI=', ?, ?)
                    """, arguments: [Self.app.rawValue, "t\(index)", text, 1_000 + index, Self.app.rawValue, "r\(index)", text, 1_000 + index])
                try db.execute(sql: """
                    INSERT INTO history_message (app_id, source, destination, message_type, payload, ts)
                    VALUES (?, 'alice', 'bob', 'peer_message', ?, ?)
                    """, arguments: [Self.app.rawValue, text, index])
            }
            #expect(try String.fetchAll(db, sql: "SELECT DISTINCT typeof(body) FROM offline_message") == ["text"])
        }
        try old.close()

        let store = try SQLiteStore(directory: directory)
        try await Self.expectOldRowsIntact(store.bundle)
        let check = try DatabaseQueue(path: path)
        let (bodies, payloads, migrations) = try await check.read { db in
            (try String.fetchAll(db, sql: "SELECT DISTINCT typeof(body) FROM offline_message"),
             try String.fetchAll(db, sql: "SELECT DISTINCT typeof(payload) FROM history_message"),
             try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier"))
        }
        #expect(bodies == ["blob"] && payloads == ["blob"])
        #expect(migrations.last == "v4-payloads-as-utf8-blobs")
        try check.close()
    }

    @Test func postgresDatabaseOfTheTextSchemaMigrates() async throws {
        let url = try await StoreBackend.freshPostgresDatabase()
        let store = try PostgresStore(url: url)
        let running = Task { await store.run() }
        defer { running.cancel() }
        try await store.migrate(through: 3)
        try await StoreBackend.withPostgresClient(url) { client in
            for (index, text) in Self.oldTexts.enumerated() {
                let app = Self.app.rawValue, timestamp = Int64(1_000 + index)
                try await client.query("""
                    INSERT INTO offline_message (app_id, receiver, message_id, sender, kind, body, description, server_ts)
                    VALUES (\(app), 'bob', \("t\(index)"), 'alice', 0, \(text), NULL, \(timestamp)),
                           (\(app), 'bob', \("r\(index)"), 'alice', 1, 'AQI=', \(text), \(timestamp))
                    """).drainRows()
                try await client.query("""
                    INSERT INTO history_message (app_id, source, destination, message_type, payload, ts)
                    VALUES (\(app), 'alice', 'bob', 'peer_message', \(text), \(Int64(index)))
                    """).drainRows()
            }
        }
        try await store.migrate()
        try await Self.expectOldRowsIntact(store.bundle)
        try await StoreBackend.withPostgresClient(url) { client in
            var types: [String] = []
            for try await type in try await client.query("""
                SELECT data_type::TEXT FROM information_schema.columns
                WHERE (table_name, column_name) IN (('offline_message', 'body'), ('offline_message', 'description'),
                                                    ('history_message', 'payload'))
                """).decode(String.self) { types.append(type) }
            #expect(types == ["bytea", "bytea", "bytea"])
        }
    }
}

extension PostgresRowSequence {
    /// Reads every row, so that a server error surfaces.
    func drainRows() async throws {
        for try await _ in self {}
    }
}
