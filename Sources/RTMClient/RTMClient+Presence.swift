import RTMProtocol

extension RTMClient {
    /// Presence changes of subscribed peers: first the current state of newly subscribed peers, then
    /// every change (UNREACHABLE appears only here). Single consumer.
    public var peersOnlineStatusChanges: AsyncStream<[String: PeerOnlineState]> { outputs.presence }

    /// ONLINE or OFFLINE for up to 256 users (a query never answers UNREACHABLE).
    /// - Throws: `QueryPeersOnlineStatusErrorCode`.
    public func queryPeersOnlineStatus(_ userIDs: [String]) async throws(QueryPeersOnlineStatusErrorCode) -> [String: PeerOnlineState] {
        let reply = try await call(.queryPeersOnlineStatus(userIDs: userIDs), notLoggedIn: QueryPeersOnlineStatusErrorCode.userNotLoggedIn, interrupted: QueryPeersOnlineStatusErrorCode.timeout)
        guard reply.code == ReplyCode.ok else { throw QueryPeersOnlineStatusErrorCode(rawValue: reply.code) ?? .failure }
        var statuses: [String: PeerOnlineState] = [:]
        for (user, value) in reply.fields["statuses"]?.objectValue ?? [:] {
            statuses[user] = PeerOnlineState(rawValue: Int(value.intValue ?? 2)) ?? .offline
        }
        return statuses
    }

    /// Watches up to 512 peers in total. - Throws: `PeerSubscriptionStatusErrorCode` (`.overflow` past 512).
    public func subscribePeersOnlineStatus(_ userIDs: [String]) async throws(PeerSubscriptionStatusErrorCode) {
        let reply = try await call(.subscribePeersOnlineStatus(userIDs: userIDs), notLoggedIn: PeerSubscriptionStatusErrorCode.userNotLoggedIn, interrupted: PeerSubscriptionStatusErrorCode.timeout)
        guard reply.code == ReplyCode.ok else { throw PeerSubscriptionStatusErrorCode(rawValue: reply.code) ?? .failure }
        await engine.didSubscribe(userIDs)
    }

    /// Stops watching peers. - Throws: `PeerSubscriptionStatusErrorCode`.
    public func unsubscribePeersOnlineStatus(_ userIDs: [String]) async throws(PeerSubscriptionStatusErrorCode) {
        let reply = try await call(.unsubscribePeersOnlineStatus(userIDs: userIDs), notLoggedIn: PeerSubscriptionStatusErrorCode.userNotLoggedIn, interrupted: PeerSubscriptionStatusErrorCode.timeout)
        guard reply.code == ReplyCode.ok else { throw PeerSubscriptionStatusErrorCode(rawValue: reply.code) ?? .failure }
        await engine.didUnsubscribe(userIDs)
    }
}
