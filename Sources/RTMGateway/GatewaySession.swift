import DequeModule
import NIOCore
import RTMCore
import RTMProtocol
import Synchronization

/// A logged-in session as the gateway keeps it: it outlives any one socket for the grace period.
///
/// It numbers events (`seq`), keeps what a resumed client must be replayed (every peer message not
/// yet acknowledged, and the last 32 channel messages per channel), and forwards frames to the
/// socket currently attached, if any. It is the router's ``SessionSink`` for this session.
/// Both replay buffers are bounded in events and in bytes (``GatewayConfiguration``): channel
/// messages past the bound are dropped oldest first; peer messages past it end the session.
final class GatewaySession: SessionSink, Sendable {
    typealias BufferedEvent = ReplayBuffer.Event

    struct State {
        var seq: Int64 = 0
        var attached: GatewayConnection?
        var routerSession: RouterSession?
        var unackedPeerMessages = ReplayBuffer()
        var channelMessages: [ChannelName: ReplayBuffer] = [:]
        /// The token's warning and expiry timers (none for apps without certificate).
        var tokenTimers: [any RTMTimer] = []
        var ended = false
    }

    let sessionID: String
    let gateway: Gateway
    let state = Mutex(State())

    init(sessionID: String, gateway: Gateway) {
        self.sessionID = sessionID
        self.gateway = gateway
    }

    var routerSession: RouterSession? { state.withLock { $0.routerSession } }

    /// `{"seq":N,` + `body`, with room in front for the WebSocket header (see ``TextFrameWriter``).
    static func frame(seq: Int64, body: ByteBuffer) -> ByteBuffer {
        var buffer = TextFrameWriter.payloadBuffer(capacity: body.readableBytes + 28)
        buffer.writeStaticString("{\"seq\":")
        buffer.writeDecimal(seq)
        buffer.writeInteger(UInt8(ascii: ","))
        buffer.writeImmutableBuffer(body)
        return buffer
    }

    // MARK: SessionSink

    func enqueueEvent(_ body: ByteBuffer, kind: EventKind) -> Bool {
        let limits = gateway.configuration
        var channelEventsDropped = 0
        // `overflowed` is the attached connection whose queue this event made overflow, if any;
        // `unacked` is set when the event made the replay buffer pass its bound (what it held).
        let (accepted, overflowed, unacked) = state.withLock { state -> (Bool, GatewayConnection?, Deque<BufferedEvent>?) in
            guard !state.ended else { return (false, nil, nil) }
            state.seq += 1
            switch kind {
            case .peerMessage(let messageID, let offlineCopy):
                let event = BufferedEvent(seq: state.seq, body: body, messageID: messageID, offlineCopy: offlineCopy)
                let limit = ReplayBuffer.Limit(events: limits.maximumUnackedPeerMessages, bytes: limits.maximumUnackedPeerBytes)
                guard state.unackedPeerMessages.append(event, within: limit) else {
                    // The event is given up with the rest; the session ends below, outside the lock.
                    return (true, nil, state.unackedPeerMessages.takeAll())
                }
            case .channelMessage(let channel, let timestamp):
                // Mutated in place (copying the ring out and back would copy its storage on every message),
                // with one dictionary lookup per message.
                channelEventsDropped = state.channelMessages[channel, default: ReplayBuffer()].appendDroppingOldest(
                    BufferedEvent(seq: state.seq, body: body, timestamp: timestamp),
                    within: ReplayBuffer.Limit(events: limits.replayedChannelMessages, bytes: limits.maximumReplayedChannelBytes))
            case .other:
                break
            }
            guard let connection = state.attached else { return (true, nil, nil) }
            // Pushed under the session lock so frames reach the socket in `seq` order. The frame is handed
            // over, not kept: the socket's loop may write it at once, and a second reference would make
            // the writer copy it to put the header in front.
            return (true, connection.queue.pushFrame(Self.frame(seq: state.seq, body: body)) == .overflowed ? connection : nil, nil)
        }
        if channelEventsDropped > 0 { gateway.metrics.channelReplayDropped.increment(by: Int64(channelEventsDropped)) }
        if let unacked { endForReplayOverflow(givingUp: unacked) }
        // An overflow drops the socket, not the session: the event stays buffered for a resume.
        overflowed?.closeSlowConsumer()
        return accepted
    }

    /// The unacknowledged peer messages passed their bound: the session ends (it could not replay
    /// them all, so it cannot be resumed: `resume` answers REJECTED and the client logs in afresh),
    /// the messages are given up like those of any ended session (``giveUp(_:)``), and the socket is
    /// closed with 4005. Peer messages are queued outside the router's lock, so the router can be
    /// called here.
    private func endForReplayOverflow(givingUp unacked: Deque<BufferedEvent>) {
        gateway.metrics.replayOverflows.increment()
        gateway.metrics.replayGivenUp.increment(by: Int64(unacked.count))
        gateway.metrics.replayStoredOffline.increment(by: Int64(unacked.filter { $0.offlineCopy != nil }.count))
        giveUp(unacked)
        let (connection, routerSession) = end()
        if let routerSession { gateway.broker.logout(routerSession) }
        connection?.closeByDeadline(code: RTMCloseCode.slowConsumer, reason: "replay buffer full")
    }

    // MARK: Delivery life cycle
    //
    // The one owner of what happens to a peer message handed to this session: an `ack`, a `resume`
    // past it (an implicit ack), or the session's end (logout, kick, expiry, shutdown, replay
    // overflow) each go through `acknowledge` or `giveUp`, which settle the replay buffer, the
    // sender's acknowledgement slot and the offline store together.

    /// The client acknowledged these peer messages (an `ack`, or a `resume` past them): each leaves
    /// the replay buffer, its sender's wait ends confirmed, and a stored (offline) copy is deleted.
    func acknowledge(_ messageIDs: [String]) {
        let routerSession = state.withLock { state -> RouterSession? in
            for messageID in messageIDs { state.unackedPeerMessages.remove(messageID: messageID) }
            return state.routerSession
        }
        guard let routerSession else { return }
        for messageID in messageIDs { gateway.acknowledge(messageID, from: routerSession) }
    }

    /// The session gives up peer messages it holds unacknowledged: their senders' waits end at once
    /// unconfirmed (408 / SENT_TIMEOUT), and those sent with offline messaging are stored for the
    /// user's next session (delivered at once if it has one already, e.g. the login that kicked this one).
    private func giveUp(_ unacked: Deque<BufferedEvent>) {
        guard !unacked.isEmpty else { return }
        gateway.messages.storeUnacknowledged(unacked.compactMap(\.offlineCopy))
        for event in unacked { gateway.broker.abandonAck(messageID: event.messageID) }
    }

    func terminate(_ reason: SessionTermination) {
        let (event, code) = Self.termination(reason)
        if let event { _ = enqueueEvent(ByteBuffer(bytes: event.encodeBody()), kind: .other) }
        let (connection, routerSession) = end()
        // A kick or a takeover elsewhere: the router ended the session already (and must not say OFFLINE).
        if reason != .remoteLogin, reason != .resumedElsewhere, let routerSession { gateway.broker.logout(routerSession) }
        connection?.close(code: code, reason: "\(reason)")
    }

    /// The event and close code that tell a client why its session ended.
    static func termination(_ reason: SessionTermination) -> (ServerEvent?, UInt16) {
        switch reason {
        case .remoteLogin:
            (.connectionState(state: ConnectionState.aborted.rawValue, reason: ConnectionChangeReason.remoteLogin.rawValue),
             RTMCloseCode.remoteLogin)
        case .tokenExpired:
            (.connectionState(state: ConnectionState.aborted.rawValue, reason: ConnectionChangeReason.tokenExpired.rawValue),
             RTMCloseCode.tokenExpired)
        case .serverShutdown:
            (.connectionState(state: ConnectionState.reconnecting.rawValue, reason: ConnectionChangeReason.interrupted.rawValue), RTMCloseCode.goingAway)
        case .resumedElsewhere:
            (nil, RTMCloseCode.normal)
        }
    }

    func expired() {
        end()   // which also tells the message service the session ended
    }

    // MARK: Life cycle

    /// Starts the session on `connection` (a fresh login; a takeover numbers its events on from
    /// `lastSeq`, the last its client saw on the lost node).
    func start(routerSession: RouterSession, on connection: GatewayConnection, numberingAfter lastSeq: Int64 = 0) {
        state.withLock { state in
            state.routerSession = routerSession
            state.attached = connection
            state.seq = max(state.seq, lastSeq)
        }
    }

    /// Attaches a resuming socket: queues every buffered event after `lastSeq` (peer messages not yet
    /// acknowledged; channel messages of joined channels from the replay window), then live events.
    /// Peer messages at or before `lastSeq` reached the client, so they count as acknowledged.
    func resume(on connection: GatewayConnection, after lastSeq: Int64, joined: Set<ChannelName>) -> GatewayConnection? {
        let windowStart = gateway.clock.nowMilliseconds() - gateway.configuration.channelReplayWindow.milliseconds
        let (previous, acknowledged) = state.withLock { state -> (GatewayConnection?, [String]) in
            let previous = state.attached
            let acknowledged = state.unackedPeerMessages.events.filter { $0.seq <= lastSeq }.map(\.messageID)
            state.unackedPeerMessages.removeAll { $0.seq <= lastSeq }
            var replay = Array(state.unackedPeerMessages.events)
            for (channel, ring) in state.channelMessages where joined.contains(channel) {
                replay += ring.events.filter { $0.seq > lastSeq && $0.timestamp >= windowStart }
            }
            state.channelMessages = state.channelMessages.filter { joined.contains($0.key) }
            for event in replay.sorted(by: { $0.seq < $1.seq }) {
                _ = connection.queue.pushFrame(Self.frame(seq: event.seq, body: event.body))
            }
            state.attached = connection
            return (previous === connection ? nil : previous, acknowledged)
        }
        acknowledge(acknowledged)
        return previous
    }

    /// The socket went away; returns whether it was the attached one (the session then waits for a resume).
    func detach(_ connection: GatewayConnection) -> Bool {
        state.withLock { state in
            guard state.attached === connection, !state.ended else { return false }
            state.attached = nil
            return true
        }
    }

    /// The session left `channel`: its channel messages are no longer replayed.
    func left(_ channel: ChannelName) {
        _ = state.withLock { $0.channelMessages.removeValue(forKey: channel) }
    }

    /// Ends the session for good (logout, kick, expiry, shutdown); returns what was attached.
    @discardableResult
    func end() -> (GatewayConnection?, RouterSession?) {
        let (connection, routerSession, timers, unacked) = state.withLock {
            state -> (GatewayConnection?, RouterSession?, [any RTMTimer], Deque<BufferedEvent>) in
            state.ended = true
            defer {
                state.attached = nil
                state.routerSession = nil
                state.tokenTimers = []
                state.channelMessages.removeAll()
            }
            return (state.attached, state.routerSession, state.tokenTimers, state.unackedPeerMessages.takeAll())
        }
        for timer in timers { timer.cancel() }
        giveUp(unacked)
        gateway.forget(sessionID: sessionID)
        if let routerSession { gateway.messages.sessionEnded(routerSession) }
        return (connection, routerSession)
    }

    var isEnded: Bool { state.withLock { $0.ended } }

    // MARK: Token expiry

    /// Warns `tokenWarningLead` before `expiresAt` (Unix seconds) and ends the session once it has
    /// passed. The timers run on `eventLoop` (the socket's), so a waiting session holds no task.
    func scheduleTokenTimer(expiresAt: Int64?, on eventLoop: any EventLoop) {
        var timers: [any RTMTimer] = []
        if let expiresAt {
            let clock = gateway.clock
            let expiryMS = expiresAt * 1000
            let warningAt = expiryMS - gateway.configuration.tokenWarningLead.milliseconds
            timers.append(clock.schedule(atMilliseconds: warningAt, on: eventLoop) {
                guard clock.nowMilliseconds() < expiryMS else { return }
                _ = self.enqueueEvent(ByteBuffer(bytes: ServerEvent.tokenPrivilegeWillExpire.encodeBody()), kind: .other)
            })
            // Expired iff now > expiry, in whole seconds.
            timers.append(clock.schedule(atMilliseconds: expiryMS + 1000, on: eventLoop) { self.terminate(.tokenExpired) })
        }
        let previous = state.withLock { state -> [any RTMTimer] in
            guard !state.ended else { return timers }
            defer { state.tokenTimers = timers }
            return state.tokenTimers
        }
        for timer in previous { timer.cancel() }
    }
}

extension ByteBuffer {
    /// Writes `value` in decimal, in place (no `String` is made).
    mutating func writeDecimal(_ value: Int64) {
        if value < 0 { writeInteger(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        var digits = 1
        var probe = magnitude
        while probe >= 10 { probe /= 10; digits += 1 }
        writeWithUnsafeMutableBytes(minimumWritableBytes: digits) { bytes in
            var rest = magnitude
            for index in stride(from: digits - 1, through: 0, by: -1) {
                bytes[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            return digits
        }
    }
}
