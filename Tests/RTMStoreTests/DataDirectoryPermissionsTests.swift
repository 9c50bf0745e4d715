import Foundation
import RTMCore
import RTMStoreSQLite
import Testing

/// The SQLite data directory holds app certificates in clear: only the server's user may read it.
struct DataDirectoryPermissionsTests {
    static func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func aNewDataDirectoryAndItsDatabaseFilesArePrivate() async throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("rtm-perm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: parent) }
        let directory = parent.appendingPathComponent("data")
        let store = try SQLiteStore(directory: directory)
        // A write so that SQLite has created its -wal and -shm files.
        try await store.bundle.apps.upsertApp(AppRecord(appID: AppID(String(repeating: "a", count: 32))!,
                                                        certificate: String(repeating: "b", count: 32)))
        #expect(try Self.mode(directory.path) == 0o700)
        for name in ["rtm.sqlite", "rtm.sqlite-wal", "rtm.sqlite-shm"] {
            #expect(try Self.mode(directory.appendingPathComponent(name).path) == 0o600, "\(name)")
        }
    }

    @Test func aDataDirectoryLeftReadableByAnEarlierVersionIsTightened() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rtm-perm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let store = try SQLiteStore(directory: directory)
            try await store.bundle.apps.upsertApp(AppRecord(appID: AppID(String(repeating: "c", count: 32))!, certificate: nil))
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        let database = directory.appendingPathComponent("rtm.sqlite").path
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: database)
        let reopened = try SQLiteStore(directory: directory)
        #expect(try await reopened.bundle.apps.allApps().count == 1)
        #expect(try Self.mode(directory.path) == 0o700)
        #expect(try Self.mode(database) == 0o600)
    }
}
