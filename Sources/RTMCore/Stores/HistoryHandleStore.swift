import Synchronization

/// Where prepared history queries wait for their `GET …/query/<handle>` (`server-contract.md` §1:
/// opaque, single use, expiring). On PostgreSQL they are rows, so that the `GET` may reach any node
/// of a cluster; otherwise they are kept in memory (one node).
package protocol HistoryHandleStore: Sendable {
    /// Keeps `query` (encoded by the caller) under `handle` for `app` until `expiresAt` (ms); those
    /// expired at `now` may go.
    func keep(_ query: String, handle: String, app: AppID, expiresAt: Int64, now: Int64) async throws
    /// Removes the query kept under `handle` and returns it if it is `app`'s and not expired at `now`.
    func take(handle: String, app: AppID, now: Int64) async throws -> String?
}

/// History handles in memory: at most 10,000 live (the one expiring first goes), expired ones
/// dropped as new ones come.
package final class InMemoryHistoryHandles: HistoryHandleStore {
    private struct Entry {
        var app: AppID
        var query: String
        var expiresAt: Int64
    }

    private let entries = Mutex<[String: Entry]>([:])
    package static let maximumLive = 10_000

    package init() {}

    package func keep(_ query: String, handle: String, app: AppID, expiresAt: Int64, now: Int64) {
        entries.withLock { entries in
            entries = entries.filter { $0.value.expiresAt > now }
            if entries.count >= Self.maximumLive, let first = entries.min(by: { $0.value.expiresAt < $1.value.expiresAt })?.key {
                entries.removeValue(forKey: first)
            }
            entries[handle] = Entry(app: app, query: query, expiresAt: expiresAt)
        }
    }

    package func take(handle: String, app: AppID, now: Int64) -> String? {
        entries.withLock { entries in
            guard let entry = entries[handle], entry.app == app else { return nil }
            entries.removeValue(forKey: handle)
            return entry.expiresAt > now ? entry.query : nil
        }
    }
}
