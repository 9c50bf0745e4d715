/// Presence (`client-protocol.md` §5) and the grace period of a dropped session (§2).
extension Router {
    /// What a subscription request did.
    public enum SubscribeOutcome: Sendable, Equatable {
        case subscribed
        /// Over the total of 512 watched peers.
        case overflow
        case notLoggedIn
    }

    // MARK: Grace

    /// The session's socket dropped without logout. The user stays ONLINE (UNREACHABLE to subscribers
    /// after 6 s); after the grace period it goes OFFLINE, leaves its channels and its sink is told `expired()`.
    public func detach(_ session: RouterSession) {
        let since = clock.nowMilliseconds()
        let generation = state.withLock { state -> UInt64? in
            guard state.sessions[session.key] === session, state.detached[session.key] == nil else { return nil }
            state.nextGeneration &+= 1
            state.detached[session.key] = DetachState(since: since, generation: state.nextGeneration)
            return state.nextGeneration
        }
        guard let generation else { return }
        Task { [clock, graceLimits] in
            do { try await clock.sleep(untilMilliseconds: since + graceLimits.unreachableAfter.milliseconds) } catch { return }
            self.markUnreachable(session, generation: generation)
            do { try await clock.sleep(untilMilliseconds: since + graceLimits.gracePeriod.milliseconds) } catch { return }
            self.expire(session, generation: generation)
        }
    }

    /// The session's client resumed within the grace period. Subscribers that saw UNREACHABLE see ONLINE.
    /// - Returns: `false` if the session is no longer current (expired or replaced).
    public func reattach(_ session: RouterSession) -> Bool {
        state.withLock { state in
            guard state.sessions[session.key] === session else { return false }
            if let detached = state.detached.removeValue(forKey: session.key), detached.unreachable {
                notifyWatchers(of: session.key, .online, in: &state)
            }
            return true
        }
    }

    private func markUnreachable(_ session: RouterSession, generation: UInt64) {
        state.withLock { state in
            guard state.sessions[session.key] === session, var detached = state.detached[session.key],
                  detached.generation == generation else { return }
            detached.unreachable = true
            state.detached[session.key] = detached
            notifyWatchers(of: session.key, .unreachable, in: &state)
        }
    }

    private func expire(_ session: RouterSession, generation: UInt64) {
        let departures = state.withLock { state -> [Departure]? in
            guard state.sessions[session.key] === session, state.detached[session.key]?.generation == generation else { return nil }
            return removeSession(session, from: &state, replaced: false)
        }
        guard let departures else { return }
        announce(departures)
        session.sink.expired()
    }

    // MARK: Queries and subscriptions

    /// Whether `user` is in its grace period (socket gone, session resumable).
    public func isDetached(_ user: UserID, in app: AppID) -> Bool {
        state.withLock { $0.detached[SessionKey(appID: app, userID: user)] != nil }
    }

    /// ONLINE or OFFLINE for each user, in order; a query never says UNREACHABLE.
    public func onlineStatus(of users: [UserID], in app: AppID) -> [PeerOnlineState] {
        state.withLock { state in
            users.map { state.sessions[SessionKey(appID: app, userID: $0)] == nil ? .offline : .online }
        }
    }

    /// Watches `users`. Runs `onSubscribed` (the caller queues its reply there) and then queues the
    /// current state of the newly watched users, before any later change can be queued.
    public func subscribe(_ session: RouterSession, to users: [UserID], onSubscribed: () -> Void) -> SubscribeOutcome {
        state.withLock { state in
            guard state.sessions[session.key] === session else { return .notLoggedIn }
            let current = state.subscriptions[session.key] ?? []
            let added = Set(users).subtracting(current)
            guard current.count + added.count <= graceLimits.maximumSubscriptions else { return .overflow }
            state.subscriptions[session.key] = current.union(added)
            for user in added {
                state.watchers[SessionKey(appID: session.appID, userID: user), default: []].insert(session.key)
            }
            onSubscribed()
            var seen = Set<UserID>()
            let snapshot = users.filter { added.contains($0) && seen.insert($0).inserted }
                .map { ($0, presence(of: SessionKey(appID: session.appID, userID: $0), in: state)) }
            if !snapshot.isEmpty {
                _ = session.sink.enqueueEvent(encoder.encodeBody(.peersOnlineStatus(snapshot)), kind: .other)
            }
            return .subscribed
        }
    }

    /// Stops watching `users`.
    public func unsubscribe(_ session: RouterSession, from users: [UserID]) -> SubscribeOutcome {
        state.withLock { state in
            guard state.sessions[session.key] === session else { return .notLoggedIn }
            for user in users {
                state.subscriptions[session.key]?.remove(user)
                stopWatching(SessionKey(appID: session.appID, userID: user), by: session.key, in: &state)
            }
            return .subscribed
        }
    }

    /// The users `session` watches.
    public func subscriptions(of session: RouterSession) -> Set<UserID> {
        state.withLock { $0.subscriptions[session.key] ?? [] }
    }

    // MARK: Internals (lock held)

    func presence(of key: SessionKey, in state: State) -> PeerOnlineState {
        guard state.sessions[key] != nil else { return .offline }
        return state.detached[key]?.unreachable == true ? .unreachable : .online
    }

    func notifyWatchers(of key: SessionKey, _ presence: PeerOnlineState, in state: inout State) {
        guard let watchers = state.watchers[key], !watchers.isEmpty else { return }
        let body = encoder.encodeBody(.peersOnlineStatus([(key.userID, presence)]))
        for watcher in watchers {
            _ = state.sessions[watcher]?.sink.enqueueEvent(body, kind: .other)
        }
    }

    func removeSubscriptions(of key: SessionKey, from state: inout State) {
        guard let targets = state.subscriptions.removeValue(forKey: key) else { return }
        for user in targets { stopWatching(SessionKey(appID: key.appID, userID: user), by: key, in: &state) }
    }

    /// Removes `watcher` from `target`'s watchers (and the entry once nobody watches it).
    private func stopWatching(_ target: SessionKey, by watcher: SessionKey, in state: inout State) {
        state.watchers[target]?.remove(watcher)
        if state.watchers[target]?.isEmpty == true { state.watchers.removeValue(forKey: target) }
    }
}
