import Synchronization

/// A read-through cache of the ``AppRegistry`` for the request path.
///
/// Hits are answered from memory. A miss (an unknown app id or customer id) reloads everything
/// from the registry at most once per `refreshInterval`, so apps created by `rtm app create`
/// while the server runs are found without letting a flood of unknown ids hammer the store.
public final class AppDirectory: Sendable {
    private struct Snapshot {
        var apps: [AppID: AppRecord] = [:]
        var credentials: [String: CustomerCredential] = [:]
        var loadedAt: Int64 = .min
    }

    private let registry: any AppRegistry
    private let clock: any RTMClock
    private let refreshIntervalMilliseconds: Int64
    private let snapshot = Mutex(Snapshot())

    public init(registry: any AppRegistry, clock: any RTMClock, refreshInterval: Duration = .seconds(1)) {
        self.registry = registry
        self.clock = clock
        self.refreshIntervalMilliseconds = refreshInterval.components.seconds * 1000
            + refreshInterval.components.attoseconds / 1_000_000_000_000_000
    }

    /// Loads every app and credential now.
    public func reload() async throws {
        let apps = try await registry.allApps()
        let credentials = try await registry.allCredentials()
        let now = clock.nowMilliseconds()
        snapshot.withLock { snapshot in
            snapshot.apps = Dictionary(apps.map { ($0.appID, $0) }, uniquingKeysWith: { _, last in last })
            snapshot.credentials = Dictionary(credentials.map { ($0.customerID, $0) }, uniquingKeysWith: { _, last in last })
            snapshot.loadedAt = now
        }
    }

    /// The app with `id`, or `nil` if the registry has none.
    public func app(_ id: AppID) async -> AppRecord? {
        if let app = snapshot.withLock({ $0.apps[id] }) { return app }
        await refreshIfStale()
        return snapshot.withLock { $0.apps[id] }
    }

    /// The credential for `customerID`, or `nil`.
    public func credential(customerID: String) async -> CustomerCredential? {
        if let credential = snapshot.withLock({ $0.credentials[customerID] }) { return credential }
        await refreshIfStale()
        return snapshot.withLock { $0.credentials[customerID] }
    }

    private func refreshIfStale() async {
        let now = clock.nowMilliseconds()
        let stale = snapshot.withLock { snapshot -> Bool in
            guard snapshot.loadedAt == .min || now - snapshot.loadedAt >= refreshIntervalMilliseconds else { return false }
            snapshot.loadedAt = now  // claim the refresh so concurrent misses do not all reload
            return true
        }
        if stale { try? await reload() }
    }
}
