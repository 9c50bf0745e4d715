import RTMCore

/// What one node knows of the sessions the *other* nodes hold: who holds each user, the members
/// they hold in each channel, and those users' attributes. A value, changed only by applying bus
/// events in bus order (the same order on every node); the node's own sessions are in its
/// ``Router``, not here. Applying an event returns what the node must tell its own sessions.
package struct ClusterView: Sendable {
    /// A session another node holds.
    package struct Holder: Equatable, Sendable {
        package var node: String
        package var sessionID: String
        package var reachable: Bool
        /// Its node is stopping and handed it over: it stays as it is until taken over or expired.
        package var handedOver = false

        package init(node: String, sessionID: String, reachable: Bool, handedOver: Bool = false) {
            self.node = node
            self.sessionID = sessionID
            self.reachable = reachable
            self.handedOver = handedOver
        }
    }

    package struct UserKey: Hashable, Sendable {
        package var app: AppID
        package var user: UserID
    }

    package struct ChannelKey: Hashable, Sendable {
        package var app: AppID
        package var channel: ChannelName
    }

    /// What applying an event asks of this node.
    package enum Change: Equatable, Sendable {
        /// Tell this node's watchers of `user`.
        case presence(AppID, UserID, PeerOnlineState)
        /// Tell this node's members of `channel`.
        case memberJoined(AppID, ChannelName, UserID)
        case memberLeft(AppID, ChannelName, UserID)
        /// `user` logged in on `node`: a session of that user on this node may have to end (the
        /// broker decides by bus order).
        case loggedInElsewhere(AppID, UserID, node: String)
    }

    /// This node's id: its own events are not applied (its ``Router`` has them).
    package let nodeID: String
    package private(set) var holders: [UserKey: Holder] = [:]
    /// Members other nodes hold in each channel: user → node.
    package private(set) var members: [ChannelKey: [UserID: String]] = [:]
    package private(set) var attributes: [UserKey: [AttributeEntry]] = [:]
    package private(set) var subscriptions: [UserKey: [UserID]] = [:]

    package init(nodeID: String) {
        self.nodeID = nodeID
    }

    /// Applies `event`, published by `origin`; returns what this node must tell its own sessions.
    package mutating func apply(_ event: ClusterEvent, origin: String) -> [Change] {
        if case .nodeLost(let node) = event {   // reported by whichever node swept it, or by the node restarting
            guard node != nodeID else { return [] }
            // Sessions it handed over stay until taken over or expired (a restart after a SIGTERM).
            return holders.filter { $0.value.node == node && !$0.value.handedOver }
                .sorted { $0.key.user.rawValue < $1.key.user.rawValue }
                .flatMap { removeHolder($0.key, $0.value) }
        }
        guard origin != nodeID else { return [] }
        switch event {
        case .login(let app, let user, let session):
            guard let key = Self.userKey(app, user) else { return [] }
            if let previous = holders[key], previous.node == origin, previous.sessionID == session { return [] }   // announced again
            if let previous = holders[key], previous.sessionID == session {
                // Taken over (from a stopping node, or one not known lost yet): the same session, on
                // `origin` now; nobody is told, unless they saw it UNREACHABLE.
                holders[key] = Holder(node: origin, sessionID: session, reachable: true)
                moveMemberships(of: key, from: previous.node, to: origin)
                return previous.reachable ? [] : [.presence(key.app, key.user, .online)]
            }
            var changes: [Change] = [.loggedInElsewhere(key.app, key.user, node: origin)]
            if let previous = holders[key] {
                changes += removeMemberships(of: key, heldBy: previous.node)   // the older session left its channels
                if !previous.reachable { changes.append(.presence(key.app, key.user, .online)) }
            } else {
                changes.append(.presence(key.app, key.user, .online))
            }
            attributes[key] = nil
            subscriptions[key] = nil
            holders[key] = Holder(node: origin, sessionID: session, reachable: true)
            return changes
        case .logout(let app, let user, let session):
            guard let key = Self.userKey(app, user), let holder = holders[key], holder.sessionID == session, holder.node == origin,
                  !holder.handedOver else { return [] }
            return removeHolder(key, holder)
        case .reachability(let app, let user, let session, let reachable):
            guard let key = Self.userKey(app, user), let holder = holders[key], holder.sessionID == session,
                  !holder.handedOver, holder.reachable != reachable else { return [] }
            holders[key]?.reachable = reachable
            return [.presence(key.app, key.user, reachable ? .online : .unreachable)]
        case .join(let app, let channel, let user):
            guard let key = Self.channelKey(app, channel), let user = UserID(user),
                  members[key, default: [:]].updateValue(origin, forKey: user) == nil else { return [] }
            return [.memberJoined(key.app, key.channel, user)]
        case .leave(let app, let channel, let user):
            guard let key = Self.channelKey(app, channel), let user = UserID(user), members[key]?[user] == origin,
                  holders[UserKey(app: key.app, user: user)]?.handedOver != true else { return [] }
            members[key]?[user] = nil
            if members[key]?.isEmpty == true { members[key] = nil }
            return [.memberLeft(key.app, key.channel, user)]
        case .subscriptions(let app, let user, let session, let users):
            guard let key = Self.userKey(app, user), holders[key]?.node == origin, holders[key]?.sessionID == session else { return [] }
            subscriptions[key] = users.compactMap(UserID.init)
            return []
        case .userAttributes(let app, let user, let entries):
            guard let key = Self.userKey(app, user), holders[key]?.node == origin else { return [] }
            attributes[key] = entries.map { AttributeEntry(key: $0.key, value: $0.value) }
            return []
        case .nodeLeaving(let node):
            for (key, holder) in holders where holder.node == node { holders[key]?.handedOver = true }
            return []
        case .peerMessage, .channelMessage, .ack, .announceRequest, .nodeLost, .channelAttributes, .messagesStored:
            return []
        }
    }

    /// The sessions `node` holds, as this view knows them (what a lost node leaves to take over).
    package func sessions(heldBy node: String) -> [OrphanedSession] {
        holders.filter { $0.value.node == node }.map { orphan($0.key, $0.value, othersStillSeeIt: $0.value.handedOver) }
            .sorted { $0.userID.rawValue < $1.userID.rawValue }
    }

    /// The session `sessionID` another node holds (others see it online), if any.
    package func session(withID sessionID: String) -> OrphanedSession? {
        holders.first { $0.value.sessionID == sessionID }.map { orphan($0.key, $0.value, othersStillSeeIt: true) }
    }

    private func orphan(_ key: UserKey, _ holder: Holder, othersStillSeeIt: Bool) -> OrphanedSession {
        let channels = members.filter { $0.key.app == key.app && $0.value[key.user] == holder.node }.map(\.key.channel)
        return OrphanedSession(appID: key.app, userID: key.user, sessionID: holder.sessionID,
                               channels: channels.sorted { $0.rawValue < $1.rawValue },
                               subscriptions: subscriptions[key] ?? [], attributes: attributes[key] ?? [],
                               othersStillSeeIt: othersStillSeeIt)
    }

    /// Sessions handed over by `node` and not taken over: they end now (OFFLINE, members told).
    package mutating func expireHandedOver(by node: String, sessionIDs: Set<String>) -> [Change] {
        holders.filter { $0.value.node == node && $0.value.handedOver && sessionIDs.contains($0.value.sessionID) }
            .sorted { $0.key.user.rawValue < $1.key.user.rawValue }
            .flatMap { removeHolder($0.key, $0.value) }
    }

    /// Places a session this node held on `node`, which took it over, without telling anyone (its
    /// members and watchers here saw it online and in its channels all along). The events `node`
    /// publishes for it next (its joins, attributes) are then no-ops.
    package mutating func adopt(_ session: LocalSessionState, on node: String) {
        let key = UserKey(app: session.appID, user: session.userID)
        holders[key] = Holder(node: node, sessionID: session.sessionID, reachable: true)
        for channel in session.channels { members[ChannelKey(app: session.appID, channel: channel), default: [:]][session.userID] = node }
        attributes[key] = session.attributes.isEmpty ? nil : session.attributes
        subscriptions[key] = session.subscriptions.isEmpty ? nil : session.subscriptions
    }

    /// Forgets `user` without telling anyone (this node took its session over and holds it now).
    package mutating func forget(_ user: UserID, in app: AppID) {
        let key = UserKey(app: app, user: user)
        guard let holder = holders.removeValue(forKey: key) else { return }
        attributes[key] = nil
        subscriptions[key] = nil
        for (channelKey, users) in members where channelKey.app == app && users[user] == holder.node {
            members[channelKey]?[user] = nil
            if members[channelKey]?.isEmpty == true { members[channelKey] = nil }
        }
    }

    // MARK: Questions

    package func holder(of user: UserID, in app: AppID) -> Holder? { holders[UserKey(app: app, user: user)] }

    package func remoteMembers(of channel: ChannelName, in app: AppID) -> [UserID] {
        members[ChannelKey(app: app, channel: channel)].map { Array($0.keys) } ?? []
    }

    package func remoteMemberCount(of channel: ChannelName, in app: AppID) -> Int {
        members[ChannelKey(app: app, channel: channel)]?.count ?? 0
    }

    /// ``remoteMemberCount(of:in:)`` without `user` (a channel message's sender), without copying the members.
    package func remoteMemberCount(of channel: ChannelName, in app: AppID, excluding user: UserID) -> Int {
        guard let members = members[ChannelKey(app: app, channel: channel)] else { return 0 }
        return members.count - (members[user] == nil ? 0 : 1)
    }

    package func attributes(of user: UserID, in app: AppID) -> [AttributeEntry]? {
        let key = UserKey(app: app, user: user)
        guard holders[key] != nil else { return nil }
        return attributes[key] ?? []
    }

    // MARK: Changes

    private mutating func removeHolder(_ key: UserKey, _ holder: Holder) -> [Change] {
        holders[key] = nil
        attributes[key] = nil
        subscriptions[key] = nil
        return removeMemberships(of: key, heldBy: holder.node) + [.presence(key.app, key.user, .offline)]
    }

    private mutating func removeMemberships(of key: UserKey, heldBy node: String) -> [Change] {
        var changes: [Change] = []
        for (channelKey, users) in members where channelKey.app == key.app && users[key.user] == node {
            members[channelKey]?[key.user] = nil
            if members[channelKey]?.isEmpty == true { members[channelKey] = nil }
            changes.append(.memberLeft(key.app, channelKey.channel, key.user))
        }
        return changes.sorted { $0.channelName < $1.channelName }
    }

    private mutating func moveMemberships(of key: UserKey, from old: String, to new: String) {
        for (channelKey, users) in members where channelKey.app == key.app && users[key.user] == old {
            members[channelKey]?[key.user] = new
        }
    }

    private static func userKey(_ app: String, _ user: String) -> UserKey? {
        guard let app = AppID(app), let user = UserID(user) else { return nil }
        return UserKey(app: app, user: user)
    }

    private static func channelKey(_ app: String, _ channel: String) -> ChannelKey? {
        guard let app = AppID(app), let channel = ChannelName(channel) else { return nil }
        return ChannelKey(app: app, channel: channel)
    }
}

private extension ClusterView.Change {
    /// For a stable order of several `memberLeft`s.
    var channelName: String {
        if case .memberLeft(_, let channel, _) = self { channel.rawValue } else { "" }
    }
}
