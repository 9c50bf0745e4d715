/// Dropped sessions in their grace period and who watches whose presence: the presence-and-grace
/// concern of the ``Router``, as a value (behind its own lock, third in the router's lock order).
struct PresenceTable {
    struct DetachState {
        var since: Int64
        var generation: UInt64
        var unreachable = false
    }

    private(set) var detached: [SessionKey: DetachState] = [:]
    private var nextGeneration: UInt64 = 0
    /// Subscriber → the users it watches.
    private(set) var subscriptions: [SessionKey: Set<UserID>] = [:]
    /// Watched user → its subscribers.
    private(set) var watchers: [SessionKey: Set<SessionKey>] = [:]

    // MARK: Grace

    /// Starts the grace period of a dropped session; its generation, or `nil` if it is detached already.
    mutating func detach(_ key: SessionKey, at since: Int64) -> UInt64? {
        guard detached[key] == nil else { return nil }
        nextGeneration &+= 1
        detached[key] = DetachState(since: since, generation: nextGeneration)
        return nextGeneration
    }

    /// Ends the grace period (resumed, or the session removed); whether watchers saw UNREACHABLE.
    mutating func reattach(_ key: SessionKey) -> Bool {
        detached.removeValue(forKey: key)?.unreachable == true
    }

    /// Marks the grace period `generation` UNREACHABLE; whether it is still that period.
    mutating func markUnreachable(_ key: SessionKey, generation: UInt64) -> Bool {
        guard var state = detached[key], state.generation == generation else { return false }
        state.unreachable = true
        detached[key] = state
        return true
    }

    func isInGracePeriod(_ key: SessionKey, generation: UInt64) -> Bool { detached[key]?.generation == generation }

    func isDetached(_ key: SessionKey) -> Bool { detached[key] != nil }

    /// What watchers see for a user with a session (`online` tells whether it has one).
    func presence(of key: SessionKey, online: Bool) -> PeerOnlineState {
        guard online else { return .offline }
        return detached[key]?.unreachable == true ? .unreachable : .online
    }

    // MARK: Subscriptions

    /// Watches `users`; the ones newly watched, or `nil` past `maximum` in total.
    mutating func subscribe(_ subscriber: SessionKey, to users: [UserID], maximum: Int) -> Set<UserID>? {
        let current = subscriptions[subscriber] ?? []
        let added = Set(users).subtracting(current)
        guard current.count + added.count <= maximum else { return nil }
        subscriptions[subscriber] = current.union(added)
        for user in added {
            watchers[SessionKey(appID: subscriber.appID, userID: user), default: []].insert(subscriber)
        }
        return added
    }

    mutating func unsubscribe(_ subscriber: SessionKey, from users: [UserID]) {
        for user in users {
            subscriptions[subscriber]?.remove(user)
            stopWatching(SessionKey(appID: subscriber.appID, userID: user), by: subscriber)
        }
    }

    func subscriptions(of subscriber: SessionKey) -> Set<UserID> { subscriptions[subscriber] ?? [] }

    func watchers(of key: SessionKey) -> Set<SessionKey> { watchers[key] ?? [] }

    /// Forgets a removed session: its grace period and its subscriptions.
    mutating func sessionRemoved(_ key: SessionKey) {
        detached.removeValue(forKey: key)
        guard let targets = subscriptions.removeValue(forKey: key) else { return }
        for user in targets { stopWatching(SessionKey(appID: key.appID, userID: user), by: key) }
    }

    /// Removes `watcher` from `target`'s watchers (and the entry once nobody watches it).
    private mutating func stopWatching(_ target: SessionKey, by watcher: SessionKey) {
        watchers[target]?.remove(watcher)
        if watchers[target]?.isEmpty == true { watchers.removeValue(forKey: target) }
    }
}
