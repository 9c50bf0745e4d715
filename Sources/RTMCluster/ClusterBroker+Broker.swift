import RTMCore

/// The ``Broker`` requirements: the router answers, and asks the view for what is elsewhere; a peer
/// message for a user held elsewhere, a channel message with members elsewhere and acks owed to
/// senders elsewhere go on the bus.
extension ClusterBroker {
    package var clock: any RTMClock { router.clock }
    package var graceLimits: SessionGraceLimits { router.graceLimits }

    @discardableResult
    package func login(_ session: RouterSession) -> RouterSession? { router.login(session) }
    package func logout(_ session: RouterSession) { router.logout(session) }
    package func detach(_ session: RouterSession) { router.detach(session) }
    package func reattach(_ session: RouterSession) -> Bool { router.reattach(session) }
    package func isCurrent(_ session: RouterSession) -> Bool { router.isCurrent(session) }
    package func currentSession(of user: UserID, in app: AppID) -> RouterSession? { router.currentSession(of: user, in: app) }
    package func terminateAll(_ reason: SessionTermination) { router.terminateAll(reason) }

    /// A session kept from a lost or stopping node, else one another node still holds as far as
    /// this node knows (its node may be lost and not noticed yet): FINE-POINTS, "A node lost".
    package func takeOver(sessionID: String) -> OrphanedSession? {
        state.orphan(sessionID, now: clock.nowMilliseconds()) ?? state.view.withLock { $0.session(withID: sessionID) }
    }

    package func restore(_ session: RouterSession, from orphan: OrphanedSession) {
        state.dropOrphan(orphan.sessionID)
        router.restore(session, from: orphan)
        // This node holds it now: its view no longer places it elsewhere (nobody is told). After the
        // login, so that its watchers here, who saw the user online, are not told again.
        state.view.withLock { $0.forget(orphan.userID, in: orphan.appID) }
    }

    package func sendPeer(_ message: PeerMessage, wantAck: Bool, offline: Bool, serverTimestamp: Int64?) -> PeerDispatch {
        guard router.currentSession(of: message.to, in: message.appID) == nil,
              let holder = state.view.withLock({ $0.holder(of: message.to, in: message.appID) }) else {
            return router.sendPeer(message, wantAck: wantAck, offline: offline, serverTimestamp: serverTimestamp)
        }
        let messageID = router.newMessageID()
        let now = serverTimestamp ?? clock.nowMilliseconds()
        // Past the bound no slot opens: the message goes without asking for an ack (the wait ends at once).
        let awaitsAck = wantAck && router.openAckForElsewhere(messageID, receiver: message.to, in: message.appID)
        if awaitsAck { state.awaitAck(messageID, on: holder.node) }
        state.publish(.peerMessage(.init(app: message.appID.rawValue, from: message.from.rawValue, to: message.to.rawValue,
                                         receiverNode: holder.node, messageID: messageID, content: Self.content(message.content),
                                         serverTimestamp: now, wantsAck: awaitsAck, offline: offline)))
        return .handedOff(messageID: messageID, serverTimestamp: now)
    }

    package func deliverStored(_ message: StoredPeerMessage, to session: RouterSession) -> Bool {
        router.deliverStored(message, to: session)
    }

    package func awaitAck(messageID: String, timeout: Duration) async -> Bool {
        let acked = await router.awaitAck(messageID: messageID, timeout: timeout)
        state.stopAwaiting(messageID)
        return acked
    }

    package func ack(messageID: String, from session: RouterSession) {
        if let owed = state.takeOwedAck(messageID, from: session) {
            state.publish(.ack(messageID: messageID, senderNode: owed.senderNode, acknowledged: true))
        } else {
            router.ack(messageID: messageID, from: session)
        }
    }

    package func messagesStored(for user: UserID, in app: AppID) {
        guard router.currentSession(of: user, in: app) == nil else { return }
        state.publish(.messagesStored(app: app.rawValue, user: user.rawValue))
    }

    package func whenMessagesStoredElsewhere(_ deliver: @escaping @Sendable (RouterSession) async -> Void) {
        deliverStored.withLock { $0 = deliver }
    }

    package func abandonAck(messageID: String) {
        if let owed = state.takeOwedAck(messageID, from: nil) {
            state.publish(.ack(messageID: messageID, senderNode: owed.senderNode, acknowledged: false))
        } else {
            router.abandonAck(messageID: messageID)
        }
    }

    package func join(_ session: RouterSession, channel: ChannelName, beforeAnnouncing: (JoinOutcome) -> Void) -> JoinOutcome {
        router.join(session, channel: channel, beforeAnnouncing: beforeAnnouncing)
    }

    package func leave(_ session: RouterSession, channel: ChannelName) -> LeaveOutcome { router.leave(session, channel: channel) }
    package func joinedChannels(of session: RouterSession) -> Set<ChannelName> { router.joinedChannels(of: session) }

    package func members(of channel: ChannelName, for session: RouterSession, limit: Int) -> [UserID]? {
        router.members(of: channel, for: session, limit: limit)
    }

    package func memberCounts(of channels: [ChannelName], in app: AppID) -> [ChannelName: Int] {
        router.memberCounts(of: channels, in: app)
    }

    package func sendChannel(app: AppID, channel: ChannelName, from: UserID, content: MessageContent, serverTimestamp: Int64?)
        -> (messageID: String, serverTimestamp: Int64, receivers: Int) {
        let sent = router.sendChannel(app: app, channel: channel, from: from, content: content, serverTimestamp: serverTimestamp)
        let elsewhere = state.view.withLock { $0.remoteMemberCount(of: channel, in: app, excluding: from) }
        guard elsewhere > 0 else { return sent }
        state.publish(.channelMessage(.init(app: app.rawValue, channel: channel.rawValue, from: from.rawValue, messageID: sent.messageID,
                                            content: Self.content(content), serverTimestamp: sent.serverTimestamp)))
        return (sent.messageID, sent.serverTimestamp, sent.receivers + elsewhere)
    }

    package func onlineStatus(of users: [UserID], in app: AppID) -> [PeerOnlineState] { router.onlineStatus(of: users, in: app) }

    package func subscribe(_ session: RouterSession, to users: [UserID], onSubscribed: () -> Void) -> SubscribeOutcome {
        router.subscribe(session, to: users, onSubscribed: onSubscribed)
    }

    package func unsubscribe(_ session: RouterSession, from users: [UserID]) -> SubscribeOutcome {
        router.unsubscribe(session, from: users)
    }

    package func writeUserAttributes(_ session: RouterSession, _ write: AttributeWrite) -> AttributeOutcome {
        router.writeUserAttributes(session, write)
    }

    package func userAttributes(of user: UserID, in app: AppID, keys: [String]?) -> [AttributeEntry]? {
        router.userAttributes(of: user, in: app, keys: keys)
    }

    package func writeChannelAttributes(app: AppID, channel: ChannelName, by user: UserID, _ write: AttributeWrite,
                                       notify: Bool) -> AttributeOutcome {
        router.writeChannelAttributes(app: app, channel: channel, by: user, write, notify: notify)
    }

    package func channelAttributes(of channel: ChannelName, in app: AppID, keys: [String]?) -> [ChannelAttribute] {
        router.channelAttributes(of: channel, in: app, keys: keys)
    }
}
