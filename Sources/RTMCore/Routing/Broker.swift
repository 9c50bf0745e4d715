/// The seam between a node and every session of the service: the only way a node hands an event to
/// a session, to a channel's members or to a user's presence watchers, and the only way it learns
/// about sessions it does not hold.
///
/// The edges (the WebSocket gateway, the REST API, ``MessageService``) hold an `any Broker` and
/// nothing else of the routing core. ``Router`` is the in-process implementation: one node that
/// holds every session. A cluster implementation keeps a ``Router`` for the sessions of its node and
/// adds what crosses nodes (a registry of who is where, a bus between nodes), behind the same
/// requirements and the same answers. `BrokerConformanceTests` runs every implementation through
/// one suite, with a sender and a receiver on two nodes (for the in-process broker, one node seen
/// twice).
///
/// Requirements are synchronous and short (they only enqueue to sessions), except the wait for an
/// acknowledgement. A session (``RouterSession``) is always one this node holds; users and
/// channels may be anywhere.
package protocol Broker: AnyObject, Sendable {
    /// The node's clock: timestamps, acknowledgement timeouts, grace periods.
    var clock: any RTMClock { get }
    /// Grace period, presence and subscription limits.
    var graceLimits: SessionGraceLimits { get }

    // MARK: Sessions

    /// Makes `session` its user's current one; a session of that user elsewhere is ended with
    /// ``SessionTermination/remoteLogin``. Returns the replaced session if this node held it.
    @discardableResult
    func login(_ session: RouterSession) -> RouterSession?
    /// Ends `session` if it is still current: it leaves its channels, watchers see OFFLINE.
    func logout(_ session: RouterSession)
    /// The session's connection dropped: a grace period starts (UNREACHABLE after a while, then OFFLINE).
    func detach(_ session: RouterSession)
    /// The session's client resumed within the grace period; `false` if it is no longer current.
    func reattach(_ session: RouterSession) -> Bool
    /// Whether `session` is its user's current session.
    func isCurrent(_ session: RouterSession) -> Bool
    /// The current session of `user` in `app`, if this node holds it.
    func currentSession(of user: UserID, in app: AppID) -> RouterSession?
    /// Ends every session this node holds (shutdown).
    func terminateAll(_ reason: SessionTermination)
    /// What this node knows of session `sessionID` held by another node (lost within the grace
    /// period, stopping, or not known lost yet), for a `resume` here to take over; `nil` if nothing.
    /// A single node has none.
    func takeOver(sessionID: String) -> OrphanedSession?
    /// Starts `session` here from `orphan` (``takeOver(sessionID:)``, once the client's token was
    /// checked): logged in, back in its channels (announced to members only if others saw it leave),
    /// its attributes and subscriptions.
    func restore(_ session: RouterSession, from orphan: OrphanedSession)

    // MARK: Peer messages and acknowledgements

    /// Hands a peer message to the receiver's current session, wherever it is (see ``Router/sendPeer(_:wantAck:offline:serverTimestamp:)``).
    func sendPeer(_ message: PeerMessage, wantAck: Bool, offline: Bool, serverTimestamp: Int64?) -> PeerDispatch
    /// Queues a stored (offline) message to `session` under its original id.
    func deliverStored(_ message: StoredPeerMessage, to session: RouterSession) -> Bool
    /// Waits for the receiver's ack of `messageID` (a slot opened by a send with `wantAck`).
    func awaitAck(messageID: String, timeout: Duration) async -> Bool
    /// The receiving session acknowledged `messageID`.
    func ack(messageID: String, from session: RouterSession)
    /// The receiving session gave `messageID` up unacknowledged: the sender's wait ends with `false`.
    func abandonAck(messageID: String)
    /// Messages for `user` were just stored offline and this node holds no session of it: a node
    /// that does (the user logged in or resumed there meanwhile, unseen here) delivers them from the
    /// store. A single node has nobody to tell.
    func messagesStored(for user: UserID, in app: AppID)
    /// Sets what this node does when another node stored messages for a user whose session this node
    /// holds (``messagesStored(for:in:)``): ``MessageService`` delivers them from the store.
    func whenMessagesStoredElsewhere(_ deliver: @escaping @Sendable (RouterSession) async -> Void)

    // MARK: Channels

    /// Adds `session` to `channel`; members anywhere get `member_joined` and a paced count.
    func join(_ session: RouterSession, channel: ChannelName, beforeAnnouncing: (JoinOutcome) -> Void) -> JoinOutcome
    /// Removes `session` from `channel`; members anywhere get `member_left`.
    func leave(_ session: RouterSession, channel: ChannelName) -> LeaveOutcome
    /// The channels `session` is in.
    func joinedChannels(of session: RouterSession) -> Set<ChannelName>
    /// Up to `limit` members of `channel` (from every node), or `nil` if `session` is not in it.
    func members(of channel: ChannelName, for session: RouterSession, limit: Int) -> [UserID]?
    /// Member counts of `channels` in `app`, every node's members together.
    func memberCounts(of channels: [ChannelName], in app: AppID) -> [ChannelName: Int]
    /// Sends a channel message to every member (anywhere) but `from`.
    func sendChannel(app: AppID, channel: ChannelName, from: UserID, content: MessageContent, serverTimestamp: Int64?)
        -> (messageID: String, serverTimestamp: Int64, receivers: Int)

    // MARK: Presence

    /// ONLINE or OFFLINE for each user, wherever it is logged in.
    func onlineStatus(of users: [UserID], in app: AppID) -> [PeerOnlineState]
    /// Watches `users`: `onSubscribed` runs first (the reply), then their current state is queued,
    /// then every change, wherever they log in or out.
    func subscribe(_ session: RouterSession, to users: [UserID], onSubscribed: () -> Void) -> SubscribeOutcome
    /// Stops watching `users`.
    func unsubscribe(_ session: RouterSession, from users: [UserID]) -> SubscribeOutcome

    // MARK: Attributes

    /// Applies `write` to the session's own user attributes.
    func writeUserAttributes(_ session: RouterSession, _ write: AttributeWrite) -> AttributeOutcome
    /// A logged-in user's attributes, wherever it is; `nil` if it is not logged in.
    func userAttributes(of user: UserID, in app: AppID, keys: [String]?) -> [AttributeEntry]?
    /// Applies `write` to a channel's attributes; with `notify`, members anywhere get the set.
    func writeChannelAttributes(app: AppID, channel: ChannelName, by user: UserID, _ write: AttributeWrite,
                                notify: Bool) -> AttributeOutcome
    /// A channel's attributes.
    func channelAttributes(of channel: ChannelName, in app: AppID, keys: [String]?) -> [ChannelAttribute]
}

extension Broker {
    /// ``sendPeer(_:wantAck:offline:serverTimestamp:)`` without storage, stamped now.
    package func sendPeer(_ message: PeerMessage, wantAck: Bool) -> PeerDispatch {
        sendPeer(message, wantAck: wantAck, offline: false, serverTimestamp: nil)
    }

    /// ``join(_:channel:beforeAnnouncing:)`` with nothing to queue first.
    package func join(_ session: RouterSession, channel: ChannelName) -> JoinOutcome {
        join(session, channel: channel, beforeAnnouncing: { _ in })
    }

    /// Whether `session` is in `channel`.
    package func isMember(_ session: RouterSession, of channel: ChannelName) -> Bool {
        joinedChannels(of: session).contains(channel)
    }

    /// ``members(of:for:limit:)`` up to 512.
    package func members(of channel: ChannelName, for session: RouterSession) -> [UserID]? {
        members(of: channel, for: session, limit: 512)
    }

    /// ``sendChannel(app:channel:from:content:serverTimestamp:)`` stamped now.
    package func sendChannel(app: AppID, channel: ChannelName, from: UserID, content: MessageContent)
        -> (messageID: String, serverTimestamp: Int64, receivers: Int) {
        sendChannel(app: app, channel: channel, from: from, content: content, serverTimestamp: nil)
    }
}

/// The in-process broker: one node that holds every session.
extension Router: Broker {
    package func takeOver(sessionID: String) -> OrphanedSession? { nil }
    package func messagesStored(for user: UserID, in app: AppID) {}
    package func whenMessagesStoredElsewhere(_ deliver: @escaping @Sendable (RouterSession) async -> Void) {}

    package func restore(_ session: RouterSession, from orphan: OrphanedSession) {
        login(session)
        for channel in orphan.channels { _ = join(session, channel: channel, announcing: !orphan.othersStillSeeIt, beforeAnnouncing: { _ in }) }
        if !orphan.attributes.isEmpty { _ = writeUserAttributes(session, .replaceAll(orphan.attributes)) }
        if !orphan.subscriptions.isEmpty { _ = subscribe(session, to: orphan.subscriptions) {} }
    }
}
