import Logging
import RTMCore
import Synchronization

/// A cluster node's shared state beside its ``Router``: the view of the other nodes, the outbox of
/// this node's events, which of its logins the bus has confirmed, and the acks its sessions owe to
/// senders on other nodes. It is the router's ``RouterCluster``.
final class ClusterState: RouterCluster {
    let view: Mutex<ClusterView>
    /// Events waiting to be published, in order; the doorbell wakes the publisher.
    private let outbox = Mutex<[ClusterEvent]>([])
    let doorbell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation
    /// Session ids of this node's logins whose own `login` came back on the bus.
    private let confirmedLogins = Mutex<Set<String>>([])
    /// Messages delivered here whose sender waits on another node: id → (sender's node, receiver).
    private let owedAcks = Mutex<[String: OwedAck]>([:])
    /// Sessions of lost or stopping nodes, by session id, with the end of their window: a `resume`
    /// here may take one over until then.
    private let orphans = Mutex<[String: (session: OrphanedSession, until: Int64)]>([:])
    /// Messages sent from here with an ack slot, to a receiver on another node: id → that node.
    private let awaitedElsewhere = Mutex<[String: String]>([:])
    let maximumOutbox: Int
    let maximumOwedAcks: Int
    let logger: Logger

    struct OwedAck {
        var senderNode: String
        var app: AppID
        var user: UserID
    }

    init(nodeID: String, maximumOutbox: Int, maximumOwedAcks: Int, logger: Logger) {
        self.view = Mutex(ClusterView(nodeID: nodeID))
        self.maximumOutbox = maximumOutbox
        self.maximumOwedAcks = maximumOwedAcks
        self.logger = logger
        (doorbell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: RouterCluster

    func presenceElsewhere(of user: UserID, in app: AppID) -> PeerOnlineState? {
        view.withLock { $0.holder(of: user, in: app).map { $0.reachable ? .online : .unreachable } }
    }

    func membersElsewhere(of channel: ChannelName, in app: AppID) -> [UserID] {
        view.withLock { $0.remoteMembers(of: channel, in: app) }
    }

    func memberCountElsewhere(of channel: ChannelName, in app: AppID) -> Int {
        view.withLock { $0.remoteMemberCount(of: channel, in: app) }
    }

    func attributesElsewhere(of user: UserID, in app: AppID) -> [AttributeEntry]? {
        view.withLock { $0.attributes(of: user, in: app) }
    }

    func changed(_ change: LocalChange) {
        if case .logout(_, _, let sessionID, let replaced) = change {
            forgetLogin(sessionID)
            // A replaced session's user stays online: the newer login tells the others all they need
            // (publishing the logout would show them OFFLINE, then ONLINE).
            if replaced { return }
        }
        publish(Self.event(change))
    }

    static func event(_ change: LocalChange) -> ClusterEvent {
        switch change {
        case .login(let app, let user, let session): .login(app: app.rawValue, user: user.rawValue, session: session)
        case .logout(let app, let user, let session, _): .logout(app: app.rawValue, user: user.rawValue, session: session)
        case .reachability(let app, let user, let session, let reachable):
            .reachability(app: app.rawValue, user: user.rawValue, session: session, reachable: reachable)
        case .join(let app, let channel, let user): .join(app: app.rawValue, channel: channel.rawValue, user: user.rawValue)
        case .leave(let app, let channel, let user): .leave(app: app.rawValue, channel: channel.rawValue, user: user.rawValue)
        case .userAttributes(let app, let user, let entries):
            .userAttributes(app: app.rawValue, user: user.rawValue, attributes: entries.map { .init(key: $0.key, value: $0.value) })
        case .subscriptions(let app, let user, let session, let users):
            .subscriptions(app: app.rawValue, user: user.rawValue, session: session, users: users.map(\.rawValue))
        case .channelAttributes(let app, let channel, let all, let notify):
            channelAttributes(app, channel, all, notify: notify, announced: false)
        }
    }

    static func channelAttributes(_ app: AppID, _ channel: ChannelName, _ all: [ChannelAttribute], notify: Bool,
                                  announced: Bool) -> ClusterEvent {
        .channelAttributes(app: app.rawValue, channel: channel.rawValue, attributes: all.map {
            .init(key: $0.key, value: $0.value, updatedBy: $0.lastUpdateUserID.rawValue, updatedAt: $0.lastUpdateTimestamp)
        }, notify: notify, announced: announced)
    }

    // MARK: Outbox

    /// Queues `event` for the bus (never blocks; past the bound the event is dropped and logged).
    func publish(_ event: ClusterEvent) {
        let queued = outbox.withLock { pending -> Bool in
            guard pending.count < maximumOutbox else { return false }
            pending.append(event)
            return true
        }
        if queued { ring.yield() } else { logger.error("cluster outbox full (\(maximumOutbox) events): an event was dropped") }
    }

    var isOutboxEmpty: Bool { outbox.withLock { $0.isEmpty } }

    /// Takes up to `limit` waiting events, oldest first.
    func takeOutbox(limit: Int) -> [ClusterEvent] {
        outbox.withLock { pending in
            let taken = Array(pending.prefix(limit))
            pending.removeFirst(taken.count)
            if !pending.isEmpty { ring.yield() }
            return taken
        }
    }

    // MARK: Logins and owed acks

    func confirmLogin(_ sessionID: String) { confirmedLogins.withLock { _ = $0.insert(sessionID) } }
    func isConfirmed(_ sessionID: String) -> Bool { confirmedLogins.withLock { $0.contains(sessionID) } }
    func forgetLogin(_ sessionID: String) { confirmedLogins.withLock { _ = $0.remove(sessionID) } }

    func awaitAck(_ messageID: String, on node: String) { awaitedElsewhere.withLock { $0[messageID] = node } }
    func stopAwaiting(_ messageID: String) { _ = awaitedElsewhere.withLock { $0.removeValue(forKey: messageID) } }

    /// The messages whose receivers were on `node` (their slots end unconfirmed); forgotten here.
    func awaitedOn(_ node: String) -> [String] {
        awaitedElsewhere.withLock { awaited in
            let ids = awaited.filter { $0.value == node }.map(\.key)
            for id in ids { awaited[id] = nil }
            return ids
        }
    }

    /// Sessions kept for a takeover, at most (past it, the oldest loss's are not kept; logged).
    static let maximumOrphans = 100_000

    /// Keeps a lost or stopping node's sessions for a takeover until `now + window`.
    func keepOrphans(_ sessions: [OrphanedSession], now: Int64, window: Int64) {
        let dropped = orphans.withLock { orphans -> Int in
            var dropped = 0
            for session in sessions {
                guard orphans.count < Self.maximumOrphans || orphans[session.sessionID] != nil else { dropped += 1; continue }
                orphans[session.sessionID] = (session, now + window)
            }
            return dropped
        }
        if dropped > 0 { logger.warning("cluster: \(dropped) sessions of a lost node not kept for a takeover (over \(Self.maximumOrphans))") }
    }

    /// The kept session `sessionID`, if its window has not passed (it stays kept until restored).
    func orphan(_ sessionID: String, now: Int64) -> OrphanedSession? {
        orphans.withLock { orphans in
            guard let orphan = orphans[sessionID], now < orphan.until else { return nil }
            return orphan.session
        }
    }

    /// The session was taken over (here or elsewhere): it is no longer offered.
    func dropOrphan(_ sessionID: String) { _ = orphans.withLock { $0.removeValue(forKey: sessionID) } }

    /// Forgets the kept sessions whose window has passed.
    func pruneOrphans(now: Int64) { orphans.withLock { orphans in orphans = orphans.filter { now < $0.value.until } } }

    func oweAck(_ messageID: String, to senderNode: String, app: AppID, user: UserID) -> Bool {
        owedAcks.withLock { owed in
            guard owed.count < maximumOwedAcks else { return false }
            owed[messageID] = OwedAck(senderNode: senderNode, app: app, user: user)
            return true
        }
    }

    /// The owed ack for `messageID` if `session` (when given) is its receiver; it is no longer owed.
    func takeOwedAck(_ messageID: String, from session: RouterSession?) -> OwedAck? {
        owedAcks.withLock { owed in
            guard let ack = owed[messageID] else { return nil }
            if let session, ack.app != session.appID || ack.user != session.userID { return nil }
            owed[messageID] = nil
            return ack
        }
    }
}
