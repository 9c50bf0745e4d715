import Logging
import Metrics
import NIOCore
import Synchronization

/// Routes messages between sessions of one node: who is logged in, who is in which channel,
/// peer delivery with acknowledgement, channel fan-out, presence and attributes.
///
/// Its state is split by concern into four values, each behind its own lock: ``SessionTable``
/// (sessions and acknowledgement slots), ``ChannelTable`` (channels, membership, member-count
/// pacing), ``PresenceTable`` (grace periods and presence subscriptions) and ``AttributeTable``.
/// An operation takes only the locks of the concerns it touches; one that needs several takes them
/// in that order (sessions, channels, presence, attributes), never another, so none can deadlock.
/// Every operation is short and synchronous; sends to connections only enqueue. Every key includes
/// the app id, so nothing crosses apps. Each outgoing event is encoded once and the same bytes are
/// queued to every receiver.
package final class Router: Sendable {
    let sessionTable = Mutex(SessionTable())
    let channelTable = Mutex(ChannelTable())
    let presenceTable = Mutex(PresenceTable())
    let attributeTable: Mutex<AttributeTable>
    package let clock: any RTMClock
    package let encoder: any EventEncoder
    package let limits: RouterLimits
    package let graceLimits: SessionGraceLimits
    package let attributeLimits: AttributeLimits
    /// Where login/logout and join/leave events go for the REST event feeds, if anywhere.
    package let eventRecorder: EventRecorder?
    /// The cluster this node is part of, if any: what other nodes hold, and where this node's changes go.
    let cluster: (any RouterCluster)?
    let logger: Logger
    let messageIDs: MessageIDGenerator
    let metrics = RouterMetrics()
    /// ``terminateAll(_:)`` is ending every session: none is told of the others leaving or going
    /// offline (their clients are told the server is going; in a cluster the user did not leave).
    let endingAll = Atomic<Int>(0)

    package init(clock: any RTMClock, encoder: any EventEncoder, limits: RouterLimits = RouterLimits(),
                graceLimits: SessionGraceLimits = SessionGraceLimits(), attributeLimits: AttributeLimits = AttributeLimits(),
                eventRecorder: EventRecorder? = nil, cluster: (any RouterCluster)? = nil, logger: Logger = Logger(label: "rtm.router")) {
        self.eventRecorder = eventRecorder
        self.cluster = cluster
        self.clock = clock
        self.encoder = encoder
        self.limits = limits
        self.graceLimits = graceLimits
        self.attributeLimits = attributeLimits
        self.attributeTable = Mutex(AttributeTable(limits: attributeLimits))
        self.logger = logger
        self.messageIDs = MessageIDGenerator()
    }

    /// Runs `body` with every table locked, in the lock order (for what touches every concern: a
    /// session's start and end).
    func withAllTables<Result: Sendable>(
        _ body: (inout SessionTable, inout ChannelTable, inout PresenceTable, inout AttributeTable) -> Result
    ) -> Result {
        sessionTable.withLock { sessions in
            channelTable.withLock { channels in
                presenceTable.withLock { presence in
                    attributeTable.withLock { attributes in body(&sessions, &channels, &presence, &attributes) }
                }
            }
        }
    }

    // MARK: Sessions

    /// Registers a logged-in session. An older session of the same user in the same app is removed
    /// first (its channels left, members told) and terminated with ``SessionTermination/remoteLogin``.
    /// - Returns: the session that was replaced, if any.
    @discardableResult
    package func login(_ session: RouterSession) -> RouterSession? {
        let (previous, departures) = withAllTables { sessions, channels, presence, attributes -> (RouterSession?, [Departure]) in
            var departures: [Departure] = []
            let previous = sessions.current(session.key)
            if let previous {
                departures = removeSession(previous, replaced: true, &sessions, &channels, &presence, &attributes)
            }
            _ = sessions.insert(session)
            channels.sessionStarted(session.key)
            record(.login, session.userID, in: session.appID)
            cluster?.changed(.login(session.appID, session.userID, sessionID: session.sessionID))
            if previous == nil, presenceElsewhere(of: session.key) != .online { notifyWatchers(of: session.key, .online, sessions, presence) }
            return (previous, departures)
        }
        announce(departures)
        previous?.sink.terminate(.remoteLogin)
        return previous
    }

    /// Removes `session` if it is still the current one for its user: leaves its channels (members
    /// see `member_left`). Used for logout and for a closed connection.
    package func logout(_ session: RouterSession) {
        let departures = withAllTables { sessions, channels, presence, attributes -> [Departure] in
            guard sessions.isCurrent(session) else { return [] }
            return removeSession(session, replaced: false, &sessions, &channels, &presence, &attributes)
        }
        announce(departures)
    }

    /// Whether `session` is the current session of its user.
    package func isCurrent(_ session: RouterSession) -> Bool {
        sessionTable.withLock { $0.isCurrent(session) }
    }

    /// How another node's session of the user stands, if this node is in a cluster and another holds it.
    func presenceElsewhere(of key: SessionKey) -> PeerOnlineState? {
        cluster?.presenceElsewhere(of: key.userID, in: key.appID)
    }

    /// Whether `user` has a live session in `app`.
    package func isOnline(_ user: UserID, in app: AppID) -> Bool {
        sessionTable.withLock { $0.current(SessionKey(appID: app, userID: user)) != nil }
    }

    /// Number of logged-in sessions, all apps together.
    package var sessionCount: Int { sessionTable.withLock { $0.sessions.count } }

    /// Terminates every session (server shutdown), quietly: a session still open is not told that
    /// the ones ended before it left (its own termination comes next).
    package func terminateAll(_ reason: SessionTermination) {
        let sessions = sessionTable.withLock { Array($0.sessions.values) }
        endingAll.add(1, ordering: .sequentiallyConsistent)   // a count: two at once (a lost lease, a SIGTERM) both stay quiet
        defer { endingAll.subtract(1, ordering: .sequentiallyConsistent) }
        for session in sessions { session.sink.terminate(reason) }
    }

    /// Removes a session and everything tied to it: channels, subscriptions, user attributes (every
    /// table locked). Watchers are told OFFLINE unless the session is being `replaced` by a newer login.
    func removeSession(_ session: RouterSession, replaced: Bool, _ sessions: inout SessionTable, _ channels: inout ChannelTable,
                       _ presence: inout PresenceTable, _ attributes: inout AttributeTable) -> [Departure] {
        _ = sessions.remove(session)
        presence.sessionRemoved(session.key)
        attributes.sessionRemoved(session.key)
        if !replaced, endingAll.load(ordering: .sequentiallyConsistent) == 0, presenceElsewhere(of: session.key) == nil {
            notifyWatchers(of: session.key, .offline, sessions, presence)
        }
        record(.logout, session.userID, in: session.appID)
        cluster?.changed(.logout(session.appID, session.userID, sessionID: session.sessionID, replaced: replaced))
        let departures = channels.leaveAll(session.key, limits: limits, membersElsewhere: membersElsewhere(of:))
        for departure in departures { departed(departure, &attributes) }
        return departures
    }

    // MARK: Peer messages

    /// Hands a peer message to the receiver's connection. With `wantAck`, an acknowledgement slot is
    /// kept so ``awaitAck(messageID:timeout:)`` can wait for it (an ack that arrives first is kept):
    /// whoever asks for one must await it, which ends the slot. Every slot ends: by the ack, by the
    /// wait's timeout, by the refusal of the write it waits for, or by ``abandonAck(messageID:)``. At
    /// most ``RouterLimits/maximumPendingAcks`` are open; past it no slot opens and the wait ends at
    /// once with `false`. With `offline`, the receiver's session
    /// gets the message's offline copy, which it stores if it must give the message up unacknowledged
    /// (see ``EventKind/peerMessage(messageID:offlineCopy:)``). `serverTimestamp` is the message's
    /// time when the caller took it already (to record it first); by default, now.
    package func sendPeer(_ message: PeerMessage, wantAck: Bool, offline: Bool, serverTimestamp: Int64?) -> PeerDispatch {
        let messageID = messageIDs.next()
        let now = serverTimestamp ?? clock.nowMilliseconds()
        let receiverKey = SessionKey(appID: message.appID, userID: message.to)
        let receiver = sessionTable.withLock { sessions -> RouterSession? in
            guard let receiver = sessions.current(receiverKey) else { return nil }
            if wantAck, !sessions.openAck(messageID, receiver: receiverKey, maximum: limits.maximumPendingAcks) {
                metrics.ackSlotsFull.increment()   // delivered, but its sender's wait ends at once unconfirmed
            }
            return receiver
        }
        guard let receiver else { return .offline(messageID: messageID, serverTimestamp: now) }
        let body = encoder.encodeBody(.peerMessage(messageID: messageID, from: message.from, content: message.content,
                                                   serverTimestamp: now, offline: false))
        let offlineCopy = offline ? StoredPeerMessage(messageID: messageID, appID: message.appID, from: message.from, to: message.to,
                                                      content: message.content, serverTimestamp: now) : nil
        guard receiver.sink.enqueueEvent(body, kind: .peerMessage(messageID: messageID, offlineCopy: offlineCopy)) else {
            if wantAck { _ = sessionTable.withLock { $0.closeAck(messageID) } }
            return .failed(messageID: messageID, serverTimestamp: now)
        }
        metrics.peerDelivered.increment()
        return .handedOff(messageID: messageID, serverTimestamp: now)
    }

    /// Queues a stored (offline) message to `session` with `offline: true`, under its original id.
    /// - Returns: `false` if the session is gone or refused it.
    package func deliverStored(_ message: StoredPeerMessage, to session: RouterSession) -> Bool {
        guard isCurrent(session) else { return false }
        let body = encoder.encodeBody(.peerMessage(messageID: message.messageID, from: message.from, content: message.content,
                                                   serverTimestamp: message.serverTimestamp, offline: true))
        return session.sink.enqueueEvent(body, kind: .peerMessage(messageID: message.messageID))
    }

    /// The current session of `user` in `app`, if logged in.
    package func currentSession(of user: UserID, in app: AppID) -> RouterSession? {
        sessionTable.withLock { $0.current(SessionKey(appID: app, userID: user)) }
    }

    /// Acknowledgement slots open (sent with `wantAck`, not yet awaited to the end).
    package var pendingAckCount: Int { sessionTable.withLock { $0.pendingAcks.count } }

    /// Waits for the receiver's `ack` of `messageID`.
    /// - Returns: `true` when acknowledged, `false` after `timeout` (or if no slot was kept).
    package func awaitAck(messageID: String, timeout: Duration) async -> Bool {
        let deadline = clock.nowMilliseconds() + timeout.milliseconds
        let timer = Task { [clock] in
            try await clock.sleep(untilMilliseconds: deadline)
            self.resolveAck(messageID, acked: false)
        }
        defer { timer.cancel() }
        let acked = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            if let immediate = sessionTable.withLock({ $0.wait(messageID, continuation) }) {
                continuation.resume(returning: immediate)
            }
        }
        if acked { metrics.acks.increment() } else { metrics.ackTimeouts.increment() }
        return acked
    }

    /// Records the receiving session's acknowledgement. Acks from anyone but the receiver are ignored.
    package func ack(messageID: String, from session: RouterSession) {
        if sessionTable.withLock({ $0.isAwaitingAck(messageID, from: session) }) { resolveAck(messageID, acked: true) }
    }

    /// The receiving session gave `messageID` up before acknowledging it: its sender's wait ends now
    /// with `false` (408 / SENT_TIMEOUT), as if the timeout had passed.
    package func abandonAck(messageID: String) {
        sessionTable.withLock { $0.closeAck(messageID) }?.resume(returning: false)
    }

    private func resolveAck(_ messageID: String, acked: Bool) {
        sessionTable.withLock { $0.resolve(messageID, acked: acked) }?.resume(returning: acked)
    }

    /// Records an event for the REST feeds (cheap; safe under the lock).
    func record(_ kind: RTMEvent.Kind, _ user: UserID, in app: AppID, channel: ChannelName? = nil) {
        eventRecorder?.record(RTMEvent(appID: app, userID: user.rawValue, kind: kind, channel: channel?.rawValue,
                                       timestamp: clock.nowMilliseconds()))
    }
}

/// Unique, hard-to-guess message ids for this process.
final class MessageIDGenerator: Sendable {
    private let counter = Atomic<UInt64>(0)
    private let prefix: String

    init() {
        prefix = "m-" + String(UInt64.random(in: 0..<(1 << 40)), radix: 36) + "-"
    }

    func next() -> String {
        let value = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return prefix + String(value, radix: 36)
    }
}

struct RouterMetrics: Sendable {
    let peerDelivered = Counter(label: "rtm_messages_delivered_total", dimensions: [("kind", "peer")])
    let channelDelivered = Counter(label: "rtm_messages_delivered_total", dimensions: [("kind", "channel")])
    let acks = Counter(label: "rtm_acks_total")
    let ackTimeouts = Counter(label: "rtm_ack_timeouts_total")
    let ackSlotsFull = Counter(label: "rtm_ack_slots_full_total")
}
