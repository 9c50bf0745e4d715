import Logging
import RTMCore
import Synchronization

/// The broker of one node of a cluster (docs/CLUSTER.md): a ``Router`` for the sessions this node
/// holds, a ``ClusterView`` of what the other nodes hold, and a ``ClusterBus`` between them.
///
/// Questions are answered from memory (the router asks the view for what is elsewhere). This node's
/// changes are published by the router as they happen (``RouterCluster/changed(_:)``); what the
/// other nodes publish is applied by ``run()`` in bus order. A message between two sessions of this
/// node never touches the bus; one for a user the view places on another node is published for it.
package final class ClusterBroker: Broker {
    package let router: Router
    package let nodeID: String
    let state: ClusterState
    /// The publisher has a batch in flight (or is about to take one).
    private let publishing = Atomic<Bool>(false)
    /// This node handed its sessions over and is stopping: it no longer announces them.
    private let leaving = Atomic<Bool>(false)
    /// This node's announce request of its last resync came back on the bus: it listens, and the
    /// others have had it before everything they publish from then on.
    private let synced = Atomic<Bool>(false)
    /// What ``MessageService`` does for messages another node stored for a session held here.
    let deliverStored = Mutex<(@Sendable (RouterSession) async -> Void)?>(nil)
    let bus: any ClusterBus
    let logger: Logger
    /// Events per publish (one transaction).
    static let batchSize = 100

    /// - Parameter bus: the bus, which names this node (``ClusterBus/nodeID``).
    package init(bus: any ClusterBus, clock: any RTMClock, encoder: any EventEncoder,
                 limits: RouterLimits = RouterLimits(), graceLimits: SessionGraceLimits = SessionGraceLimits(),
                 attributeLimits: AttributeLimits = AttributeLimits(), eventRecorder: EventRecorder? = nil,
                 maximumOutbox: Int = 100_000, logger: Logger = Logger(label: "rtm.cluster")) {
        let nodeID = bus.nodeID
        self.nodeID = nodeID
        self.bus = bus
        self.logger = logger
        self.state = ClusterState(nodeID: nodeID, maximumOutbox: maximumOutbox, maximumOwedAcks: limits.maximumPendingAcks, logger: logger)
        self.router = Router(clock: clock, encoder: encoder, limits: limits, graceLimits: graceLimits, attributeLimits: attributeLimits,
                             eventRecorder: eventRecorder, cluster: state, logger: logger)
    }

    // MARK: Running

    /// Publishes this node's events and applies the other nodes' until cancelled.
    package func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.publishOutbox() }
            group.addTask {
                for await delivery in self.bus.deliveries { self.received(delivery) }
            }
        }
    }

    /// The one publisher of this node's events, in order (one batch in flight at a time).
    private func publishOutbox() async {
        for await _ in state.doorbell {
            publishing.store(true, ordering: .releasing)
            defer { publishing.store(false, ordering: .releasing) }
            var batch = state.takeOutbox(limit: Self.batchSize)
            var failures = 0
            while !batch.isEmpty, !Task.isCancelled {
                do {
                    try await bus.publish(batch.map { $0.encoded() })
                    batch = state.takeOutbox(limit: Self.batchSize)
                    failures = 0
                } catch {
                    failures += 1
                    logger.warning("cluster bus: publishing \(batch.count) events failed (attempt \(failures)), trying again: \(error)")
                    try? await Task.sleep(for: .milliseconds(min(100 * failures, 2_000)))
                }
            }
        }
    }

    /// Waits, at most `limit`, until the publisher has published everything in the outbox (a
    /// stopping node's handover and last events). The publisher stays the only one, so this node's
    /// events keep their order; what still waits after `limit` is left.
    package func flushOutbox(within limit: Duration = .seconds(3)) async {
        for _ in 0..<max(1, Int(limit / .milliseconds(10))) {
            if state.isOutboxEmpty, !publishing.load(ordering: .acquiring) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
        logger.warning("cluster bus: events of this node were still waiting to be published after \(limit)")
    }

    /// Called once this node holds its lease and before it serves, so that it comes first in this
    /// run's bus order: the others forget the sessions of the id's previous run (killed, and
    /// restarted before its lease was swept, so nobody reported it lost). Sessions it handed over
    /// (SIGTERM) stay until taken over or expired.
    package func forgetPreviousRun() {
        state.publish(.nodeLost(node: nodeID))
    }

    /// This node stops (SIGTERM) and hands its sessions over: the others keep them online for the
    /// grace period, for their clients to resume elsewhere. Called before the sessions are told to
    /// go; returns once the event is on the bus (at most `limit`).
    package func handOver(within limit: Duration = .seconds(2)) async {
        leaving.store(true, ordering: .releasing)
        state.publish(.nodeLeaving(node: nodeID))
        await flushOutbox(within: limit)
    }

    /// Another node is stopping: its sessions are kept for a takeover, and those not taken over
    /// within the grace period end then (OFFLINE, members told), as after a loss.
    /// Keeps `sessions` for a takeover for the grace period, and forgets them after it.
    private func keepOrphans(_ sessions: [OrphanedSession]) {
        guard !sessions.isEmpty else { return }
        let until = clock.nowMilliseconds() + router.graceLimits.gracePeriod.milliseconds
        state.keepOrphans(sessions, now: clock.nowMilliseconds(), window: router.graceLimits.gracePeriod.milliseconds)
        Task { [clock, state] in
            try? await clock.sleep(untilMilliseconds: until)
            state.pruneOrphans(now: clock.nowMilliseconds())
        }
    }

    private func keepHandedOver(by node: String) {
        let sessions = state.view.withLock { $0.sessions(heldBy: node) }
        let window = router.graceLimits.gracePeriod
        keepOrphans(sessions)
        let sessionIDs = Set(sessions.map(\.sessionID))
        let deadline = clock.nowMilliseconds() + window.milliseconds
        Task { [clock] in
            try? await clock.sleep(untilMilliseconds: deadline)
            let changes = self.state.view.withLock { $0.expireHandedOver(by: node, sessionIDs: sessionIDs) }
            for change in changes { self.perform(change) }
        }
    }

    func received(_ delivery: BusDelivery) {
        switch delivery {
        case .resync:
            synced.store(false, ordering: .releasing)
            // The other nodes answer an announce request with what they hold; and this node announces
            // its own sessions, for a node that started listening before this one did (it asked
            // while this node could not hear, and missed this node's logins).
            // The view is kept: announcements of what it knew are no-ops, so clients are not told
            // again. (What changed while the bus could not hear, a logout for one, is not learned
            // this way: see docs/CLUSTER.md, "Resync".)
            state.publish(.announceRequest)
            announceLocalSessions()
        case .event(let envelope):
            guard let event = ClusterEvent.decode(envelope.body) else {
                logger.warning("cluster bus: an event from \(envelope.origin) this version does not know was ignored")
                return
            }
            if envelope.origin == nodeID {
                switch event {
                case .login(_, _, let session): state.confirmLogin(session)
                case .channelAttributes: applyChannelAttributes(event)   // the last write in bus order wins here too
                case .nodeLost: apply(event, from: envelope.origin)       // this node's sweep: in bus order, like everyone
                case .announceRequest: synced.store(true, ordering: .releasing)
                default: break
                }
                return
            }
            apply(event, from: envelope.origin)
        }
    }

    private func apply(_ event: ClusterEvent, from origin: String) {
        if case .login(let app, let user, let session) = event, state.isConfirmed(session), let app = AppID(app),
           let user = UserID(user), let taken = router.endForTakeoverElsewhere(app: app, user: user, sessionID: session) {
            // A session of this node, resumed on `origin` (its client changed node), later in bus order than
            // this node's own login of it: it moved, nobody is told (but watchers who saw it UNREACHABLE
            // see it ONLINE again). Not confirmed yet, the copy here is the later one: the usual rule below.
            state.forgetLogin(session)
            state.view.withLock { $0.adopt(taken, on: origin) }
            if !taken.reachable { router.presenceChangedElsewhere(of: user, in: app, .online) }
            return
        }
        if case .nodeLost(let node) = event, node != nodeID {
            keepOrphans(state.view.withLock { $0.sessions(heldBy: node) })
        }
        let changes = state.view.withLock { $0.apply(event, origin: origin) }
        if case .nodeLeaving(let node) = event, node != nodeID { keepHandedOver(by: node) }
        switch event {
        case .login(_, _, let session):
            state.dropOrphan(session)   // taken over elsewhere (or a new session): no longer offered here
        case .peerMessage(let message) where message.receiverNode == nodeID:
            deliver(message, from: origin)
        case .channelMessage(let message):
            guard let app = AppID(message.app), let channel = ChannelName(message.channel), let from = UserID(message.from),
                  let content = Self.content(message.content) else { return }
            router.fanOutFromElsewhere(app: app, channel: channel, from: from, messageID: message.messageID, content: content,
                                       serverTimestamp: message.serverTimestamp)
        case .ack(let messageID, let senderNode, let acknowledged) where senderNode == nodeID:
            state.stopAwaiting(messageID)
            router.resolveAckFromElsewhere(messageID, acked: acknowledged)
        case .nodeLost(let node):
            // Never `message_delivered` for a message nobody acked: its sender's wait ends now.
            for messageID in state.awaitedOn(node) { router.resolveAckFromElsewhere(messageID, acked: false) }
        case .channelAttributes:
            applyChannelAttributes(event)
        case .announceRequest:
            announceLocalSessions()
        case .messagesStored(let app, let user):
            guard let app = AppID(app), let user = UserID(user), let session = router.currentSession(of: user, in: app),
                  let deliver = deliverStored.withLock({ $0 }) else { break }
            Task { await deliver(session) }
        default:
            break
        }
        for change in changes { perform(change) }
    }

    /// Why this node should not get traffic from a load balancer now (`GET /readyz`), if it should not:
    /// it has not heard its own announce request back since it (re)started listening (the others'
    /// answers are on their way: for a few milliseconds it may not know where every user is), or it
    /// is stopping and has handed its sessions over.
    package var notReadyBecause: String? {
        if leaving.load(ordering: .acquiring) { return "stopping (sessions handed over)" }
        if !synced.load(ordering: .acquiring) { return "joining the cluster (bus not synced yet)" }
        return nil
    }

    /// This node's sweep removed `node`'s lease: every node (this one too) forgets its sessions.
    package func reportNodeLost(_ node: String) {
        state.publish(.nodeLost(node: node))   // applied here too when it comes back, in bus order
    }

    /// This node's own lease was swept (it could not renew in time; the others think it lost): it
    /// ends its sessions, whose clients reconnect (to another node or, once it registered again, here).
    package func leaseLost() {
        router.terminateAll(.serverShutdown)
    }

    private func perform(_ change: ClusterView.Change) {
        switch change {
        case .presence(let app, let user, let presence):
            router.presenceChangedElsewhere(of: user, in: app, presence)
        case .memberJoined(let app, let channel, let user):
            router.memberJoinedElsewhere(user, channel: channel, in: app)
        case .memberLeft(let app, let channel, let user):
            router.memberLeftElsewhere(user, channel: channel, in: app)
        case .loggedInElsewhere(let app, let user, _):
            // Last in bus order wins: a session whose own login came back before this one ends; one
            // whose login has not come back yet is the later one, and the other node ends its own.
            if let session = router.currentSession(of: user, in: app), state.isConfirmed(session.sessionID) {
                router.endForLoginElsewhere(session)
            }
        }
    }

    private func deliver(_ message: ClusterEvent.PeerMessage, from origin: String) {
        guard let app = AppID(message.app), let from = UserID(message.from), let to = UserID(message.to),
              let content = Self.content(message.content) else { return }
        let delivered = router.deliverFromElsewhere(PeerMessage(appID: app, from: from, to: to, content: content),
                                                    messageID: message.messageID, serverTimestamp: message.serverTimestamp,
                                                    offline: message.offline)
        guard message.wantsAck else { return }
        if delivered == nil || !state.oweAck(message.messageID, to: origin, app: app, user: to) {
            state.publish(.ack(messageID: message.messageID, senderNode: origin, acknowledged: false))
        }
    }

    private func applyChannelAttributes(_ event: ClusterEvent) {
        guard case .channelAttributes(let app, let channel, let values, let notify, let announced) = event,
              let app = AppID(app), let channel = ChannelName(channel) else { return }
        let all = values.compactMap { value in
            UserID(value.updatedBy).map { ChannelAttribute(key: value.key, value: value.value, lastUpdateUserID: $0,
                                                           lastUpdateTimestamp: value.updatedAt) }
        }
        router.channelAttributesFromElsewhere(app: app, channel: channel, all, notify: notify, announced: announced)
    }

    /// What this node holds, for a node that asked (or after this node's own resync). A stopping
    /// node announces nothing: its sessions are handed over, and a node that learned them now (it
    /// missed `node leaving`) would take the logouts that follow as real ones.
    private func announceLocalSessions() {
        guard !leaving.load(ordering: .acquiring) else { return }
        for (app, channel, all) in router.localChannelAttributes() {
            state.publish(ClusterState.channelAttributes(app, channel, all, notify: false, announced: true))
        }
        for session in router.localSessionStates() {
            let (app, user) = (session.appID.rawValue, session.userID.rawValue)
            state.publish(.login(app: app, user: user, session: session.sessionID))
            if !session.reachable { state.publish(.reachability(app: app, user: user, session: session.sessionID, reachable: false)) }
            for channel in session.channels { state.publish(.join(app: app, channel: channel.rawValue, user: user)) }
            if !session.subscriptions.isEmpty {
                state.publish(.subscriptions(app: app, user: user, session: session.sessionID, users: session.subscriptions.map(\.rawValue)))
            }
            if !session.attributes.isEmpty {
                state.publish(.userAttributes(app: app, user: user, attributes: session.attributes.map { .init(key: $0.key, value: $0.value) }))
            }
        }
    }

    static func content(_ content: ClusterEvent.Content) -> MessageContent? {
        if let text = content.text { return .text(text) }
        if let raw = content.rawBase64 { return .raw(base64: raw, description: content.description) }
        return nil
    }

    static func content(_ content: MessageContent) -> ClusterEvent.Content {
        switch content {
        case .text(let text): ClusterEvent.Content(text: text)
        case .raw(let base64, let description): ClusterEvent.Content(rawBase64: base64, description: description)
        }
    }
}
