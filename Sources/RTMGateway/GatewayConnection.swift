import Logging
import NIOCore
import NIOWebSocket
import RTMCore
import RTMProtocol
import Synchronization

/// One client socket: handles its requests in order, answers each, and writes everything queued for it.
///
/// Requests arrive from the socket's ``GatewayFrameHandler`` into an inbox; a task handles them one
/// after another and exists only while the inbox has work, so an idle socket holds no task. The
/// request handling owns the per-socket limits. Events reach the socket through its
/// ``GatewaySession`` (which numbers them and keeps replay buffers) and the ``OutboundQueue``.
final class GatewayConnection: Sendable {
    struct Shared {
        var routerSession: RouterSession?
        var session: GatewaySession?
        var finished = false
        /// Ends an unauthenticated socket after the login timeout; cancelled at login to free it early.
        var loginTimer: Task<Void, Never>?
        /// Requests waiting to be handled, in order.
        var inbox: Inbox
        var readLoop: ReadLoop
    }

    let gateway: Gateway
    let channel: any Channel
    let logger: Logger
    let queue: OutboundQueue
    let writer: TextFrameWriter
    let shared: Mutex<Shared>
    /// The socket's handler, for control frames; cleared when the connection finishes.
    let frameHandler: NIOLoopBoundBox<GatewayFrameHandler?>
    private let slowConsumerClosed = Atomic<Bool>(false)

    init(gateway: Gateway, channel: any Channel, logger: Logger) {
        self.gateway = gateway
        self.channel = channel
        self.writer = TextFrameWriter(channel: channel)
        self.logger = logger
        self.queue = OutboundQueue(maximumFrames: gateway.configuration.maximumQueuedFrames,
                                   maximumBytes: gateway.configuration.maximumQueuedBytes)
        self.shared = Mutex(Shared(inbox: Inbox(maximumBytes: gateway.configuration.maximumInboxBytes),
                                   readLoop: ReadLoop(limits: SessionRateLimits(limits: gateway.sharedLimits))))
        self.frameHandler = NIOLoopBoundBox.makeEmptyBox(valueType: GatewayFrameHandler.self, eventLoop: channel.eventLoop)
    }

    /// The router's view of the session on this socket, while it is live.
    var routerSession: RouterSession? { shared.withLock { $0.routerSession } }
    var session: GatewaySession? { shared.withLock { $0.session } }
    var broker: any Broker { gateway.broker }
    var clock: any RTMClock { gateway.clock }

    // MARK: Life cycle

    /// Starts the connection on its event loop: finds the frame encoder, opens the outbound queue and
    /// arms the login timeout. `false` if the pipeline has no WebSocket encoder.
    func start(frameWriter handler: GatewayFrameHandler) -> Bool {
        guard writer.start() else { return false }
        frameHandler.value = handler
        let drainer = gateway.drainer(for: channel.eventLoop)
        queue.start { drainer.schedule(self) }
        let loginDeadline = clock.nowMilliseconds() + gateway.configuration.loginTimeout.milliseconds
        let loginTimer = Task { [clock] in
            try? await clock.sleep(untilMilliseconds: loginDeadline)
            if !Task.isCancelled && self.session == nil {
                self.gateway.metrics.loginTimeouts.increment()
                self.closeByDeadline(code: RTMCloseCode.policyViolation, reason: "login timeout")
            }
        }
        shared.withLock { $0.loginTimer = loginTimer }
        return true
    }

    /// The socket is gone (on the event loop). Requests still waiting are handled first; then a live
    /// session waits for a resume for the grace period.
    func finish() {
        let now = shared.withLock { $0.inbox.socketClosed() }
        frameHandler.value = nil
        if now { finishNow() }
    }

    func finishNow() {
        let (routerSession, session, loginTimer) = shared.withLock { shared -> (RouterSession?, GatewaySession?, Task<Void, Never>?) in
            guard !shared.finished else { return (nil, nil, nil) }
            shared.finished = true
            shared.inbox.shut()
            defer { shared.routerSession = nil; shared.session = nil; shared.loginTimer = nil }
            return (shared.routerSession, shared.session, shared.loginTimer)
        }
        loginTimer?.cancel()
        if let routerSession, let session, session.detach(self) { broker.detach(routerSession) }
        queue.shutdown()
    }

    /// Binds this socket to a session (login or resume); `false` if the socket already closed.
    func bind(_ routerSession: RouterSession, _ session: GatewaySession) -> Bool {
        let (bound, timer) = shared.withLock { shared -> (Bool, Task<Void, Never>?) in
            guard !shared.finished, shared.session == nil else { return (false, nil) }
            shared.routerSession = routerSession
            shared.session = session
            defer { shared.loginTimer = nil }
            return (true, shared.loginTimer)
        }
        timer?.cancel()
        return bound
    }

    /// Unbinds the session (after logout, or when another socket resumed it).
    func unbind() {
        shared.withLock { shared in
            shared.routerSession = nil
            shared.session = nil
        }
    }

    /// Queues a close frame after what is already queued.
    func close(code: UInt16, reason: String) {
        queue.pushClose(code: code, reason: reason)
    }

    /// Closes for a passed deadline: the close frame is queued after what is already queued, and the
    /// TCP connection is closed ``GatewayConfiguration/closeTimeout`` later whatever happens, so the
    /// deadline holds for a client that reads nothing (its queue never drains to the close frame).
    func closeByDeadline(code: UInt16, reason: String) {
        close(code: code, reason: reason)
        let channel = self.channel
        _ = clock.schedule(atMilliseconds: clock.nowMilliseconds() + gateway.configuration.closeTimeout.milliseconds,
                           on: channel.eventLoop) { channel.close(promise: nil) }
    }

    /// The client stopped reading and its queue overflowed: the socket is dropped (its session stays
    /// resumable), a 4005 close is attempted, and TCP is closed shortly after whatever happens.
    func closeSlowConsumer() {
        guard !slowConsumerClosed.exchange(true, ordering: .relaxed) else { return }
        gateway.metrics.slowConsumers.increment()
        logger.notice("closing slow consumer")
        let handler = frameHandler
        channel.eventLoop.execute {
            handler.value?.sendClose(code: RTMCloseCode.slowConsumer, reason: "slow consumer", closeAfter: .seconds(2))
        }
    }

    // MARK: Replies and events

    func reply(_ id: Int64, code: Int, _ fill: (inout ReplyBuilder) -> Void = { _ in }) {
        var builder = ReplyBuilder(id: id, code: code)
        fill(&builder)
        if queue.pushFrame(TextFrameWriter.payloadBuffer(builder.finish())) == .overflowed { closeSlowConsumer() }
    }

    /// Sends an event: numbered by the session when logged in, without `seq` before that.
    func sendEvent(_ event: ServerEvent) {
        if let session {
            _ = session.enqueueEvent(ByteBuffer(bytes: event.encodeBody()), kind: .other)
        } else if queue.pushFrame(TextFrameWriter.payloadBuffer(event.encode(seq: nil))) == .overflowed {
            closeSlowConsumer()
        }
    }
}

/// State only the request handling touches.
struct ReadLoop {
    var limits: SessionRateLimits
    var protocolErrorTimes: [Int64] = []
    var isClosing = false
}
