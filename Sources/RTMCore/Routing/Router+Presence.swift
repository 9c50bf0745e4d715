/// Presence (`client-protocol.md` §5) and the grace period of a dropped session (§2).
/// What a presence subscription request (``Broker``) did.
package enum SubscribeOutcome: Sendable, Equatable {
    case subscribed
    /// Over the total of 512 watched peers.
    case overflow
    case notLoggedIn
}

extension Router {
    // MARK: Grace

    /// The session's socket dropped without logout. The user stays ONLINE (UNREACHABLE to subscribers
    /// after 6 s); after the grace period it goes OFFLINE, leaves its channels and its sink is told `expired()`.
    package func detach(_ session: RouterSession) {
        let since = clock.nowMilliseconds()
        let generation = sessionTable.withLock { sessions -> UInt64? in
            guard sessions.isCurrent(session) else { return nil }
            return presenceTable.withLock { $0.detach(session.key, at: since) }
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
    package func reattach(_ session: RouterSession) -> Bool {
        sessionTable.withLock { sessions in
            guard sessions.isCurrent(session) else { return false }
            presenceTable.withLock { presence in
                if presence.reattach(session.key) {
                    notifyWatchers(of: session.key, .online, sessions, presence)
                    cluster?.changed(.reachability(session.appID, session.userID, sessionID: session.sessionID, reachable: true))
                }
            }
            return true
        }
    }

    private func markUnreachable(_ session: RouterSession, generation: UInt64) {
        sessionTable.withLock { sessions in
            guard sessions.isCurrent(session) else { return }
            presenceTable.withLock { presence in
                if presence.markUnreachable(session.key, generation: generation) {
                    notifyWatchers(of: session.key, .unreachable, sessions, presence)
                    cluster?.changed(.reachability(session.appID, session.userID, sessionID: session.sessionID, reachable: false))
                }
            }
        }
    }

    private func expire(_ session: RouterSession, generation: UInt64) {
        let departures = withAllTables { sessions, channels, presence, attributes -> [Departure]? in
            guard sessions.isCurrent(session), presence.isInGracePeriod(session.key, generation: generation) else { return nil }
            return removeSession(session, replaced: false, &sessions, &channels, &presence, &attributes)
        }
        guard let departures else { return }
        announce(departures)
        session.sink.expired()
    }

    // MARK: Queries and subscriptions

    /// Whether `user` is in its grace period (socket gone, session resumable).
    package func isDetached(_ user: UserID, in app: AppID) -> Bool {
        presenceTable.withLock { $0.isDetached(SessionKey(appID: app, userID: user)) }
    }

    /// ONLINE or OFFLINE for each user, in order; a query never says UNREACHABLE.
    package func onlineStatus(of users: [UserID], in app: AppID) -> [PeerOnlineState] {
        sessionTable.withLock { sessions in
            users.map { user in
                let key = SessionKey(appID: app, userID: user)
                return sessions.current(key) != nil || presenceElsewhere(of: key) != nil ? .online : .offline
            }
        }
    }

    /// Watches `users`. Runs `onSubscribed` (the caller queues its reply there) and then queues the
    /// current state of the newly watched users, before any later change can be queued (a change is
    /// queued under the same locks).
    package func subscribe(_ session: RouterSession, to users: [UserID], onSubscribed: () -> Void) -> SubscribeOutcome {
        sessionTable.withLock { sessions in
            guard sessions.isCurrent(session) else { return .notLoggedIn }
            return presenceTable.withLock { presence in
                guard let added = presence.subscribe(session.key, to: users, maximum: graceLimits.maximumSubscriptions) else {
                    return .overflow
                }
                cluster?.changed(.subscriptions(session.appID, session.userID, sessionID: session.sessionID,
                                                presence.subscriptions(of: session.key).sorted { $0.rawValue < $1.rawValue }))
                onSubscribed()
                var seen = Set<UserID>()
                let snapshot = users.filter { added.contains($0) && seen.insert($0).inserted }.map { user in
                    let key = SessionKey(appID: session.appID, userID: user)
                    guard sessions.current(key) != nil else { return (user, presenceElsewhere(of: key) ?? .offline) }
                    return (user, presence.presence(of: key, online: true))
                }
                if !snapshot.isEmpty {
                    _ = session.sink.enqueueEvent(encoder.encodeBody(.peersOnlineStatus(snapshot)), kind: .other)
                }
                return .subscribed
            }
        }
    }

    /// Stops watching `users`.
    package func unsubscribe(_ session: RouterSession, from users: [UserID]) -> SubscribeOutcome {
        sessionTable.withLock { sessions in
            guard sessions.isCurrent(session) else { return .notLoggedIn }
            presenceTable.withLock { presence in
                presence.unsubscribe(session.key, from: users)
                cluster?.changed(.subscriptions(session.appID, session.userID, sessionID: session.sessionID,
                                                presence.subscriptions(of: session.key).sorted { $0.rawValue < $1.rawValue }))
            }
            return .subscribed
        }
    }

    /// The users `session` watches.
    package func subscriptions(of session: RouterSession) -> Set<UserID> {
        presenceTable.withLock { $0.subscriptions(of: session.key) }
    }

    /// Queues `presence` of `key` to its watchers that are logged in (the sessions and presence locks held).
    func notifyWatchers(of key: SessionKey, _ presence: PeerOnlineState, _ sessions: SessionTable, _ table: PresenceTable) {
        let watchers = table.watchers(of: key)
        guard !watchers.isEmpty else { return }
        let body = encoder.encodeBody(.peersOnlineStatus([(key.userID, presence)]))
        for watcher in watchers {
            _ = sessions.current(watcher)?.sink.enqueueEvent(body, kind: .other)
        }
    }
}
