import Synchronization

/// A read-through cache of the ``AppRegistry`` for the request path.
///
/// Hits are answered from memory. A miss looks the one id up in the registry (so apps and credentials
/// created by `rtm app create` while the server runs work at once) and remembers a negative answer
/// for `negativeTTL`, so a flood of unknown ids costs at most one lookup per id per interval.
/// Entries found are kept; ``reload()`` replaces everything.
package final class AppDirectory: Sendable {
    private struct Snapshot {
        var apps: [AppID: AppRecord] = [:]
        var credentials: [String: CustomerCredential] = [:]
        /// Ids recently looked up and not found, with when they may be looked up again.
        var missingApps: [AppID: Int64] = [:]
        var missingCredentials: [String: Int64] = [:]
    }

    private let registry: any AppRegistry
    private let clock: any RTMClock
    private let negativeTTLMilliseconds: Int64
    private let snapshot = Mutex(Snapshot())
    private let changes = Atomic<UInt64>(0)
    /// Remembered unknown ids, at most (the memory bound under floods).
    static let maximumMisses = 10_000

    package init(registry: any AppRegistry, clock: any RTMClock, negativeTTL: Duration = .seconds(1)) {
        self.registry = registry
        self.clock = clock
        self.negativeTTLMilliseconds = negativeTTL.milliseconds
    }

    /// Loads every app and credential now.
    package func reload() async throws {
        let apps = try await registry.allApps()
        let credentials = try await registry.allCredentials()
        snapshot.withLock { snapshot in
            snapshot.apps = Dictionary(apps.map { ($0.appID, $0) }, uniquingKeysWith: { _, last in last })
            snapshot.credentials = Dictionary(credentials.map { ($0.customerID, $0) }, uniquingKeysWith: { _, last in last })
            snapshot.missingApps = [:]
            snapshot.missingCredentials = [:]
            changes.add(1, ordering: .releasing)
        }
    }

    /// Grows whenever an app or credential is added or replaced, so a caller that verified something
    /// against the directory can tell cheaply that its answer still holds.
    package var generation: UInt64 { changes.load(ordering: .acquiring) }

    /// The app with `id`, or `nil` if the registry has none.
    package func app(_ id: AppID) async -> AppRecord? {
        await lookup(id, in: \.apps, misses: \.missingApps) { try await registry.app(id) }
    }

    /// The credential for `customerID`, or `nil`.
    package func credential(customerID: String) async -> CustomerCredential? {
        await lookup(customerID, in: \.credentials, misses: \.missingCredentials) { try await registry.credential(customerID: customerID) }
    }

    /// What the cache knows of app `id` without asking the registry: `.some(record)`, `.some(nil)` for
    /// an id recently looked up and not found, or `nil` when only the registry can tell.
    package func cachedApp(_ id: AppID) -> AppRecord?? {
        cached(id, in: \.apps, misses: \.missingApps)
    }

    /// What the cache knows of credential `customerID` (see ``cachedApp(_:)``).
    package func cachedCredential(customerID: String) -> CustomerCredential?? {
        cached(customerID, in: \.credentials, misses: \.missingCredentials)
    }

    private func cached<Key: Hashable, Value: Sendable>(
        _ key: Key, in values: KeyPath<Snapshot, [Key: Value]>, misses: KeyPath<Snapshot, [Key: Int64]>
    ) -> Value?? {
        snapshot.withLock { snapshot -> Value?? in
            if let value = snapshot[keyPath: values][key] { return .some(value) }
            // The clock is read only for ids not found (a hit is the hot path of every request).
            if let until = snapshot[keyPath: misses][key], until > clock.nowMilliseconds() { return .some(nil) }
            return .none
        }
    }

    /// A cached value, else one registry lookup whose answer (found or not) is remembered.
    private func lookup<Key: Hashable, Value: Sendable>(
        _ key: Key, in values: WritableKeyPath<Snapshot, [Key: Value]>,
        misses: WritableKeyPath<Snapshot, [Key: Int64]>, fetch: () async throws -> Value?
    ) async -> Value? {
        if let known = cached(key, in: values, misses: misses) { return known }
        let now = clock.nowMilliseconds()
        let found = (try? await fetch()) ?? nil
        snapshot.withLock { snapshot in
            if let found {
                snapshot[keyPath: values][key] = found
                snapshot[keyPath: misses].removeValue(forKey: key)
                changes.add(1, ordering: .releasing)
            } else {
                if snapshot[keyPath: misses].count >= Self.maximumMisses { snapshot[keyPath: misses].removeAll() }
                snapshot[keyPath: misses][key] = now + negativeTTLMilliseconds
            }
        }
        return found
    }
}
