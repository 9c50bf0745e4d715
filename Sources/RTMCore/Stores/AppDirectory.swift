import Synchronization

/// A read-through cache of the ``AppRegistry`` for the request path.
///
/// Hits are answered from memory. A miss looks the one id up in the registry (so apps and credentials
/// created by `rtm app create` while the server runs work at once) and remembers a negative answer
/// for `negativeTTL`, so a flood of unknown ids costs at most one lookup per id per interval.
/// Entries found are kept; ``reload()`` replaces everything.
public final class AppDirectory: Sendable {
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
    /// Remembered unknown ids, at most (the memory bound under floods).
    static let maximumMisses = 10_000

    public init(registry: any AppRegistry, clock: any RTMClock, negativeTTL: Duration = .seconds(1)) {
        self.registry = registry
        self.clock = clock
        self.negativeTTLMilliseconds = negativeTTL.milliseconds
    }

    /// Loads every app and credential now.
    public func reload() async throws {
        let apps = try await registry.allApps()
        let credentials = try await registry.allCredentials()
        snapshot.withLock { snapshot in
            snapshot.apps = Dictionary(apps.map { ($0.appID, $0) }, uniquingKeysWith: { _, last in last })
            snapshot.credentials = Dictionary(credentials.map { ($0.customerID, $0) }, uniquingKeysWith: { _, last in last })
            snapshot.missingApps = [:]
            snapshot.missingCredentials = [:]
        }
    }

    /// The app with `id`, or `nil` if the registry has none.
    public func app(_ id: AppID) async -> AppRecord? {
        let now = clock.nowMilliseconds()
        let cached = snapshot.withLock { snapshot -> AppRecord?? in
            if let app = snapshot.apps[id] { return .some(app) }
            if let until = snapshot.missingApps[id], until > now { return .some(nil) }
            return .none
        }
        if let cached { return cached }
        let found = try? await registry.app(id)
        snapshot.withLock { snapshot in
            if let found {
                snapshot.apps[id] = found
                snapshot.missingApps.removeValue(forKey: id)
            } else {
                if snapshot.missingApps.count >= Self.maximumMisses { snapshot.missingApps.removeAll() }
                snapshot.missingApps[id] = now + negativeTTLMilliseconds
            }
        }
        return found ?? nil
    }

    /// The credential for `customerID`, or `nil`.
    public func credential(customerID: String) async -> CustomerCredential? {
        let now = clock.nowMilliseconds()
        let cached = snapshot.withLock { snapshot -> CustomerCredential?? in
            if let credential = snapshot.credentials[customerID] { return .some(credential) }
            if let until = snapshot.missingCredentials[customerID], until > now { return .some(nil) }
            return .none
        }
        if let cached { return cached }
        let found = try? await registry.credential(customerID: customerID)
        snapshot.withLock { snapshot in
            if let found {
                snapshot.credentials[customerID] = found
                snapshot.missingCredentials.removeValue(forKey: customerID)
            } else {
                if snapshot.missingCredentials.count >= Self.maximumMisses { snapshot.missingCredentials.removeAll() }
                snapshot.missingCredentials[customerID] = now + negativeTTLMilliseconds
            }
        }
        return found ?? nil
    }
}
