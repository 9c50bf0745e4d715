import Logging
import Metrics
import NIOCore
import Synchronization

/// Routes messages between sessions of one node: who is logged in, who is in which channel,
/// peer delivery with acknowledgement, and channel fan-out.
///
/// All state sits behind one lock and every operation is short and synchronous; sends to
/// connections only enqueue. Every key includes the app id, so nothing crosses apps.
/// Each outgoing event is encoded once and the same bytes are queued to every receiver.
public final class Router: Sendable {
    struct ChannelState {
        var members: [UserID: RouterSession] = [:]
        var lastCountSentAt: Int64 = .min
        var countFlushScheduled = false
    }

    struct PendingAck {
        var receiver: SessionKey
        var acked = false
        var waiter: CheckedContinuation<Bool, Never>?
    }

    struct DetachState {
        var since: Int64
        var generation: UInt64
        var unreachable = false
    }

    struct ChannelAttributeState {
        var attributes: [String: ChannelAttribute] = [:]
        /// Bumped whenever the channel gains a member or attributes, so a pending drop can tell it is stale.
        var generation: UInt64 = 0
    }

    struct State {
        var sessions: [SessionKey: RouterSession] = [:]
        var joined: [SessionKey: Set<ChannelName>] = [:]
        var channels: [ChannelKey: ChannelState] = [:]
        var pendingAcks: [String: PendingAck] = [:]
        var detached: [SessionKey: DetachState] = [:]
        var nextGeneration: UInt64 = 0
        /// Subscriber → the users it watches.
        var subscriptions: [SessionKey: Set<UserID>] = [:]
        /// Watched user → its subscribers.
        var watchers: [SessionKey: Set<SessionKey>] = [:]
        var userAttributes: [SessionKey: [String: String]] = [:]
        var channelAttributes: [ChannelKey: ChannelAttributeState] = [:]
    }

    let state = Mutex(State())
    public let clock: any RTMClock
    public let encoder: any EventEncoder
    public let limits: RouterLimits
    public let graceLimits: SessionGraceLimits
    public let attributeLimits: AttributeLimits
    /// Where login/logout and join/leave events go for the REST event feeds, if anywhere.
    public let eventRecorder: EventRecorder?
    let logger: Logger
    let messageIDs: MessageIDGenerator
    let metrics = RouterMetrics()

    public init(clock: any RTMClock, encoder: any EventEncoder, limits: RouterLimits = RouterLimits(),
                graceLimits: SessionGraceLimits = SessionGraceLimits(), attributeLimits: AttributeLimits = AttributeLimits(),
                eventRecorder: EventRecorder? = nil, logger: Logger = Logger(label: "rtm.router")) {
        self.eventRecorder = eventRecorder
        self.clock = clock
        self.encoder = encoder
        self.limits = limits
        self.graceLimits = graceLimits
        self.attributeLimits = attributeLimits
        self.logger = logger
        self.messageIDs = MessageIDGenerator()
    }

    // MARK: Sessions

    /// Registers a logged-in session. An older session of the same user in the same app is removed
    /// first (its channels left, members told) and terminated with ``SessionTermination/remoteLogin``.
    /// - Returns: the session that was replaced, if any.
    @discardableResult
    public func login(_ session: RouterSession) -> RouterSession? {
        let (previous, departures) = state.withLock { state -> (RouterSession?, [Departure]) in
            var departures: [Departure] = []
            let previous = state.sessions[session.key]
            if let previous { departures = removeSession(previous, from: &state, replaced: true) }
            state.sessions[session.key] = session
            state.joined[session.key] = []
            record(.login, session.userID, in: session.appID)
            if previous == nil { notifyWatchers(of: session.key, .online, in: &state) }
            return (previous, departures)
        }
        announce(departures)
        previous?.sink.terminate(.remoteLogin)
        return previous
    }

    /// Removes `session` if it is still the current one for its user: leaves its channels (members
    /// see `member_left`). Used for logout and for a closed connection.
    public func logout(_ session: RouterSession) {
        let departures = state.withLock { state -> [Departure] in
            guard state.sessions[session.key] === session else { return [] }
            return removeSession(session, from: &state, replaced: false)
        }
        announce(departures)
    }

    /// Whether `session` is the current session of its user.
    public func isCurrent(_ session: RouterSession) -> Bool {
        state.withLock { $0.sessions[session.key] === session }
    }

    /// Whether `user` has a live session in `app`.
    public func isOnline(_ user: UserID, in app: AppID) -> Bool {
        state.withLock { $0.sessions[SessionKey(appID: app, userID: user)] != nil }
    }

    /// Number of logged-in sessions, all apps together.
    public var sessionCount: Int { state.withLock { $0.sessions.count } }

    /// Terminates every session (server shutdown).
    public func terminateAll(_ reason: SessionTermination) {
        let sessions = state.withLock { Array($0.sessions.values) }
        for session in sessions { session.sink.terminate(reason) }
    }

    // MARK: Peer messages

    /// Hands a peer message to the receiver's connection. With `wantAck`, an acknowledgement slot is
    /// kept so ``awaitAck(messageID:timeout:)`` can wait for it (an ack that arrives first is kept):
    /// whoever asks for one must await it, which ends the slot. With `offline`, the receiver's session
    /// gets the message's offline copy, which it stores if it must give the message up unacknowledged
    /// (see ``EventKind/peerMessage(messageID:offlineCopy:)``). `serverTimestamp` is the message's
    /// time when the caller took it already (to record it first); by default, now.
    public func sendPeer(_ message: PeerMessage, wantAck: Bool, offline: Bool = false, serverTimestamp: Int64? = nil) -> PeerDispatch {
        let messageID = messageIDs.next()
        let now = serverTimestamp ?? clock.nowMilliseconds()
        let receiverKey = SessionKey(appID: message.appID, userID: message.to)
        let receiver = state.withLock { state -> RouterSession? in
            guard let receiver = state.sessions[receiverKey] else { return nil }
            if wantAck { state.pendingAcks[messageID] = PendingAck(receiver: receiverKey) }
            return receiver
        }
        guard let receiver else { return .offline(messageID: messageID, serverTimestamp: now) }
        let body = encoder.encodeBody(.peerMessage(messageID: messageID, from: message.from, content: message.content,
                                                   serverTimestamp: now, offline: false))
        let offlineCopy = offline ? StoredPeerMessage(messageID: messageID, appID: message.appID, from: message.from, to: message.to,
                                                      content: message.content, serverTimestamp: now) : nil
        guard receiver.sink.enqueueEvent(body, kind: .peerMessage(messageID: messageID, offlineCopy: offlineCopy)) else {
            if wantAck { _ = state.withLock { $0.pendingAcks.removeValue(forKey: messageID) } }
            return .failed(messageID: messageID, serverTimestamp: now)
        }
        metrics.peerDelivered.increment()
        return .handedOff(messageID: messageID, serverTimestamp: now)
    }

    /// Queues a stored (offline) message to `session` with `offline: true`, under its original id.
    /// - Returns: `false` if the session is gone or refused it.
    public func deliverStored(_ message: StoredPeerMessage, to session: RouterSession) -> Bool {
        guard isCurrent(session) else { return false }
        let body = encoder.encodeBody(.peerMessage(messageID: message.messageID, from: message.from, content: message.content,
                                                   serverTimestamp: message.serverTimestamp, offline: true))
        return session.sink.enqueueEvent(body, kind: .peerMessage(messageID: message.messageID))
    }

    /// The current session of `user` in `app`, if logged in.
    public func currentSession(of user: UserID, in app: AppID) -> RouterSession? {
        state.withLock { $0.sessions[SessionKey(appID: app, userID: user)] }
    }

    /// Acknowledgement slots open (sent with `wantAck`, not yet awaited to the end).
    package var pendingAckCount: Int { state.withLock { $0.pendingAcks.count } }

    /// Waits for the receiver's `ack` of `messageID`.
    /// - Returns: `true` when acknowledged, `false` after `timeout` (or if no slot was kept).
    public func awaitAck(messageID: String, timeout: Duration) async -> Bool {
        let deadline = clock.nowMilliseconds() + timeout.milliseconds
        let timer = Task { [clock] in
            try await clock.sleep(untilMilliseconds: deadline)
            self.resolveAck(messageID, acked: false)
        }
        defer { timer.cancel() }
        let acked = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let immediate = state.withLock { state -> Bool? in
                guard var pending = state.pendingAcks[messageID] else { return false }
                if pending.acked {
                    state.pendingAcks.removeValue(forKey: messageID)
                    return true
                }
                pending.waiter = continuation
                state.pendingAcks[messageID] = pending
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        if acked { metrics.acks.increment() } else { metrics.ackTimeouts.increment() }
        return acked
    }

    /// Records the receiving session's acknowledgement. Acks from anyone but the receiver are ignored.
    public func ack(messageID: String, from session: RouterSession) {
        let isReceiver = state.withLock { state -> Bool in
            guard let pending = state.pendingAcks[messageID], pending.receiver == session.key,
                  state.sessions[session.key] === session else { return false }
            return true
        }
        if isReceiver { resolveAck(messageID, acked: true) }
    }

    /// The receiving session gave `messageID` up before acknowledging it: its sender's wait ends now
    /// with `false` (408 / SENT_TIMEOUT), as if the timeout had passed.
    public func abandonAck(messageID: String) {
        let waiter = state.withLock { $0.pendingAcks.removeValue(forKey: messageID)?.waiter }
        waiter?.resume(returning: false)
    }

    private func resolveAck(_ messageID: String, acked: Bool) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard var pending = state.pendingAcks[messageID] else { return nil }
            if let waiter = pending.waiter {
                state.pendingAcks.removeValue(forKey: messageID)
                return waiter
            }
            if acked {
                pending.acked = true
                state.pendingAcks[messageID] = pending
            }
            return nil
        }
        waiter?.resume(returning: acked)
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
}
