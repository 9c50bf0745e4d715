/// What the router does for events of other nodes (a cluster's broker calls these after applying a
/// bus event to its view): deliveries to this node's sessions, and what its members and watchers
/// must be told. Nothing here is published again.
extension Router {
    /// A new id for a message this node sends (also when its receiver is on another node).
    package func newMessageID() -> String { messageIDs.next() }

    /// Opens an acknowledgement slot for a message handed to a receiver on another node; the ack
    /// comes back with ``resolveAckFromElsewhere(_:acked:)``. `false` at the bound (see ``sendPeer(_:wantAck:offline:serverTimestamp:)``).
    package func openAckForElsewhere(_ messageID: String, receiver user: UserID, in app: AppID) -> Bool {
        let opened = sessionTable.withLock {
            $0.openAck(messageID, receiver: SessionKey(appID: app, userID: user), maximum: limits.maximumPendingAcks)
        }
        if !opened { metrics.ackSlotsFull.increment() }
        return opened
    }

    /// The receiver's node reports the ack (or that it gave the message up).
    package func resolveAckFromElsewhere(_ messageID: String, acked: Bool) {
        sessionTable.withLock { $0.resolve(messageID, acked: acked) }?.resume(returning: acked)
    }

    /// Queues a peer message sent on another node to the receiver's session here, under its id.
    /// - Returns: the session it was queued to, or `nil` if there is none or it refused it.
    package func deliverFromElsewhere(_ message: PeerMessage, messageID: String, serverTimestamp: Int64, offline: Bool) -> RouterSession? {
        guard let receiver = currentSession(of: message.to, in: message.appID) else { return nil }
        let body = encoder.encodeBody(.peerMessage(messageID: messageID, from: message.from, content: message.content,
                                                   serverTimestamp: serverTimestamp, offline: false))
        let offlineCopy = offline ? StoredPeerMessage(messageID: messageID, appID: message.appID, from: message.from, to: message.to,
                                                      content: message.content, serverTimestamp: serverTimestamp) : nil
        guard receiver.sink.enqueueEvent(body, kind: .peerMessage(messageID: messageID, offlineCopy: offlineCopy)) else { return nil }
        metrics.peerDelivered.increment()
        return receiver
    }

    /// Hands a channel message sent on another node to this node's members of the channel but `from`.
    /// - Returns: how many sessions accepted it.
    @discardableResult
    package func fanOutFromElsewhere(app: AppID, channel: ChannelName, from: UserID, messageID: String, content: MessageContent,
                                     serverTimestamp: Int64) -> Int {
        let receivers = channelTable.withLock { $0.receivers(of: ChannelKey(appID: app, channel: channel), except: from) }
        guard !receivers.isEmpty else { return 0 }
        let body = encoder.encodeBody(.channelMessage(channel: channel, from: from, messageID: messageID,
                                                      content: content, serverTimestamp: serverTimestamp))
        let kind = EventKind.channelMessage(channel, serverTimestamp: serverTimestamp)
        var accepted = 0
        for receiver in receivers where receiver.sink.enqueueEvent(body, kind: kind) { accepted += 1 }
        metrics.channelDelivered.increment(by: Int64(accepted))
        return accepted
    }

    /// Another node's session of `user` changed presence: this node's watchers are told, unless this
    /// node holds a session of the user (its own state is what they see).
    package func presenceChangedElsewhere(of user: UserID, in app: AppID, _ presence: PeerOnlineState) {
        let key = SessionKey(appID: app, userID: user)
        sessionTable.withLock { sessions in
            guard sessions.current(key) == nil else { return }
            presenceTable.withLock { notifyWatchers(of: key, presence, sessions, $0) }
        }
    }

    /// A member joined `channel` on another node (the view counts it already): this node's members
    /// get `member_joined` (up to the member-event threshold, counting every node's members, as a
    /// join here) and a paced count.
    package func memberJoinedElsewhere(_ user: UserID, channel: ChannelName, in app: AppID) {
        tellLocalMembers(of: channel, in: app, .memberJoined(channel: channel, user: user), countBefore: 0)
    }

    /// A member left `channel` on another node (the view no longer counts it): this node's members get
    /// `member_left` (up to the threshold, the leaver counted, as a leave here) and a paced count.
    package func memberLeftElsewhere(_ user: UserID, channel: ChannelName, in app: AppID) {
        tellLocalMembers(of: channel, in: app, .memberLeft(channel: channel, user: user), countBefore: 1)
    }

    /// Queues `event` to this node's members of `channel` if the channel, with `extra` members more,
    /// is within the member-event threshold, and schedules its member count.
    private func tellLocalMembers(of channel: ChannelName, in app: AppID, _ event: OutboundEvent, countBefore extra: Int) {
        let key = ChannelKey(appID: app, channel: channel)
        let elsewhere = membersElsewhere(of: key)
        // The members are copied only when they are told: a large channel costs one count here.
        let members = channelTable.withLock { channels -> [RouterSession]? in
            let count = channels.memberCount(of: key)
            guard count > 0 else { return nil }
            return count + elsewhere + extra <= limits.memberEventThreshold ? Array(channels.members(of: key).values) : []
        }
        guard let members else { return }
        if !members.isEmpty {
            let body = encoder.encodeBody(event)
            for member in members { _ = member.sink.enqueueEvent(body, kind: .other) }
        }
        scheduleMemberCount(key)
    }

    /// A write of `channel`'s attributes in bus order (another node's, or this node's own coming
    /// back, so that every node ends with the last write in bus order): this node keeps the same set
    /// and, with `notify`, tells its own members if its set changed. An `announced` set (a node
    /// telling what it holds after a resync) only fills a channel this node knows no attributes of.
    package func channelAttributesFromElsewhere(app: AppID, channel: ChannelName, _ all: [ChannelAttribute], notify: Bool,
                                                announced: Bool) {
        let key = ChannelKey(appID: app, channel: channel)
        channelTable.withLock { channels in
            attributeTable.withLock { attributes in
                let current = attributes.channel(key, keys: nil)
                guard current != all, !(announced && !current.isEmpty) else { return }
                attributes.replaceChannel(key, with: all)
                let members = channels.members(of: key)
                if members.isEmpty { scheduleAttributeDrop(key, attributes) }
                if notify, !members.isEmpty {
                    let body = encoder.encodeBody(.channelAttributesUpdated(channel: channel, attributes: all))
                    for member in members.values { _ = member.sink.enqueueEvent(body, kind: .other) }
                }
            }
        }
    }

    /// Every channel attribute set this node holds.
    package func localChannelAttributes() -> [(AppID, ChannelName, [ChannelAttribute])] {
        attributeTable.withLock { $0.allChannelAttributes.map { ($0.0.appID, $0.0.channel, $0.1) } }
    }

    /// The user logged in on another node later (in bus order) than `session`: the session ends as
    /// a remote login (it leaves its channels; watchers see no OFFLINE, the user is online elsewhere).
    package func endForLoginElsewhere(_ session: RouterSession) {
        let departures = withAllTables { sessions, channels, presence, attributes -> [Departure]? in
            guard sessions.isCurrent(session) else { return nil }
            return removeSession(session, replaced: true, &sessions, &channels, &presence, &attributes)
        }
        guard let departures else { return }
        announce(departures)
        session.sink.terminate(.remoteLogin)
    }
}

extension Router {
    /// The client of session `sessionID` of `user`, held here, resumed on another node, which took
    /// the session over: it ends here without a word to anyone (the user neither left its channels
    /// nor went offline; the other node holds it now) and is not published. A connection still open
    /// closes as after a resume on another socket. Its messages awaiting an ack are given up (those
    /// with an offline copy are stored, and reach the other node: ``Broker/messagesStored(for:in:)``).
    /// - Returns: what the session held, for this node's view of the other node; `nil` if this node
    ///   holds no such session.
    package func endForTakeoverElsewhere(app: AppID, user: UserID, sessionID: String) -> LocalSessionState? {
        let key = SessionKey(appID: app, userID: user)
        // Most logins from elsewhere are not of a session held here: one lock answers.
        guard sessionTable.withLock({ $0.current(key)?.sessionID == sessionID }) else { return nil }
        let ended = withAllTables { sessions, channels, presence, attributes -> (RouterSession, LocalSessionState)? in
            guard let session = sessions.current(key), session.sessionID == sessionID else { return nil }
            let state = localState(of: session, channels, presence, attributes)
            _ = sessions.remove(session)
            presence.sessionRemoved(key)
            attributes.sessionRemoved(key)
            for departure in channels.leaveAll(key, limits: limits, membersElsewhere: membersElsewhere(of:)) where departure.remainingCount == 0 {
                scheduleAttributeDrop(departure.channel, attributes)
            }
            return (session, state)
        }
        guard let (session, state) = ended else { return nil }
        session.sink.terminate(.resumedElsewhere)
        return state
    }
}

/// One of this node's sessions as the other nodes must know it (announced again when a node asks).
package struct LocalSessionState: Sendable {
    package var appID: AppID
    package var userID: UserID
    package var sessionID: String
    package var reachable: Bool
    package var channels: [ChannelName]
    package var attributes: [AttributeEntry]
    package var subscriptions: [UserID]

    package init(appID: AppID, userID: UserID, sessionID: String, reachable: Bool, channels: [ChannelName],
                 attributes: [AttributeEntry], subscriptions: [UserID]) {
        self.appID = appID
        self.userID = userID
        self.sessionID = sessionID
        self.reachable = reachable
        self.channels = channels
        self.attributes = attributes
        self.subscriptions = subscriptions
    }
}

extension Router {
    /// Every session this node holds, with its channels, reachability and attributes.
    package func localSessionStates() -> [LocalSessionState] {
        withAllTables { sessions, channels, presence, attributes in
            sessions.sessions.values.map { localState(of: $0, channels, presence, attributes) }
        }
    }

    private func localState(of session: RouterSession, _ channels: ChannelTable, _ presence: PresenceTable,
                            _ attributes: AttributeTable) -> LocalSessionState {
        LocalSessionState(appID: session.appID, userID: session.userID, sessionID: session.sessionID,
                          reachable: presence.presence(of: session.key, online: true) == .online,
                          channels: channels.channels(of: session.key).sorted { $0.rawValue < $1.rawValue },
                          attributes: attributes.user(session.key, keys: nil),
                          subscriptions: presence.subscriptions(of: session.key).sorted { $0.rawValue < $1.rawValue })
    }
}
