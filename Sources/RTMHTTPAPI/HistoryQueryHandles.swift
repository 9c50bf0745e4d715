import Foundation
import RTMCore
import Synchronization

/// A prepared history query, waiting for its `GET …/query/<handle>`.
struct HistoryQuery: Sendable {
    var appID: AppID
    var filter: HistoryFilter
    var ascending: Bool
    var offset: Int
    var limit: Int
}

/// Opaque, single-use history handles that expire (`server-contract.md` §1). Kept in memory: a
/// handle is valid on the node that made it. At most 10,000 live handles (the oldest go first).
final class HistoryQueryHandles: Sendable {
    private struct Entry {
        var query: HistoryQuery
        var expiresAt: Int64
    }

    private let clock: any RTMClock
    private let lifetimeMilliseconds: Int64
    private let entries = Mutex<[String: Entry]>([:])
    static let maximumLive = 10_000

    init(clock: any RTMClock, lifetime: Duration) {
        self.clock = clock
        self.lifetimeMilliseconds = lifetime.milliseconds
    }

    /// Stores `query` and returns its handle (URL-safe base64 of 18 random bytes).
    func make(_ query: HistoryQuery) -> String {
        let bytes = (0..<18).map { _ in UInt8.random(in: 0...255) }
        let handle = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let now = clock.nowMilliseconds()
        entries.withLock { entries in
            entries = entries.filter { $0.value.expiresAt > now }
            if entries.count >= Self.maximumLive, let oldest = entries.min(by: { $0.value.expiresAt < $1.value.expiresAt })?.key {
                entries.removeValue(forKey: oldest)
            }
            entries[handle] = Entry(query: query, expiresAt: now + lifetimeMilliseconds)
        }
        return handle
    }

    /// Takes the query of `handle` for `app`: `nil` if unknown, already used, expired or another app's.
    func take(_ handle: String, for app: AppID) -> HistoryQuery? {
        let now = clock.nowMilliseconds()
        return entries.withLock { entries in
            guard let entry = entries[handle], entry.query.appID == app else { return nil }
            entries.removeValue(forKey: handle)
            return entry.expiresAt > now ? entry.query : nil
        }
    }
}
