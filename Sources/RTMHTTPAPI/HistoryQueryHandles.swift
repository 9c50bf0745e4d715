import Foundation
import RTMCore

/// A prepared history query, waiting for its `GET …/query/<handle>`.
struct HistoryQuery: Sendable, Equatable {
    var appID: AppID
    var filter: HistoryFilter
    var ascending: Bool
    var offset: Int
    var limit: Int
}

/// Opaque, single-use history handles that expire (`server-contract.md` §1), kept by the store's
/// ``HistoryHandleStore``: in PostgreSQL, so that any node of a cluster answers the `GET`; in memory
/// on SQLite (one node).
struct HistoryQueryHandles: Sendable {
    /// The query as the store keeps it (the app is kept beside it).
    private struct Kept: Codable {
        var filter: HistoryFilter
        var ascending: Bool
        var offset: Int
        var limit: Int
    }

    let store: any HistoryHandleStore
    let clock: any RTMClock
    let lifetime: Duration

    /// Keeps `query` and returns its handle (URL-safe base64 of 18 random bytes).
    func make(_ query: HistoryQuery) async throws -> String {
        let bytes = (0..<18).map { _ in UInt8.random(in: 0...255) }
        let handle = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let kept = Kept(filter: query.filter, ascending: query.ascending, offset: query.offset, limit: query.limit)
        let now = clock.nowMilliseconds()
        try await store.keep(String(decoding: try JSONEncoder().encode(kept), as: UTF8.self), handle: handle, app: query.appID,
                             expiresAt: now + lifetime.milliseconds, now: now)
        return handle
    }

    /// Takes the query of `handle` for `app`: `nil` if unknown, already used, expired or another app's.
    func take(_ handle: String, for app: AppID) async throws -> HistoryQuery? {
        guard let text = try await store.take(handle: handle, app: app, now: clock.nowMilliseconds()),
              let kept = try? JSONDecoder().decode(Kept.self, from: Data(text.utf8)) else { return nil }
        return HistoryQuery(appID: app, filter: kept.filter, ascending: kept.ascending, offset: kept.offset, limit: kept.limit)
    }
}
