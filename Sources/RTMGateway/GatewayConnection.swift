import DequeModule
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
    /// What the socket delivered, handled in arrival order.
    enum Inbound {
        case text(ByteBuffer)
        /// A frame the gateway does not take (binary, oversized): the socket is closed with `code`.
        case refuse(code: UInt16, reason: String)
    }

    struct Shared {
        var routerSession: RouterSession?
        var session: GatewaySession?
        var finished = false
        /// Ends an unauthenticated socket after the login timeout; cancelled at login to free it early.
        var loginTimer: Task<Void, Never>?
        var inbox = Deque<Inbound>()
        /// A task is handling the inbox.
        var pumping = false
        /// The socket stopped reading because the inbox was full.
        var readingPaused = false
        /// The socket closed while requests were waiting: the connection finishes once they are handled.
        var finishWhenIdle = false
        /// A close is queued: later requests are ignored.
        var closing = false
        var readLoop: ReadLoop
    }

    let gateway: Gateway
    let channel: any Channel
    let logger: Logger
    let queue: OutboundQueue
    let writer: TextFrameWriter
    let shared: Mutex<Shared>
    /// The socket's handler, for control frames; cleared when the connection finishes.
    private let frameHandler: NIOLoopBoundBox<GatewayFrameHandler?>
    private let slowConsumerClosed = Atomic<Bool>(false)

    init(gateway: Gateway, channel: any Channel, logger: Logger) {
        self.gateway = gateway
        self.channel = channel
        self.writer = TextFrameWriter(channel: channel)
        self.logger = logger
        self.queue = OutboundQueue(maximumFrames: gateway.configuration.maximumQueuedFrames,
                                   maximumBytes: gateway.configuration.maximumQueuedBytes)
        self.shared = Mutex(Shared(readLoop: ReadLoop(limits: SessionRateLimits(limits: gateway.sharedLimits))))
        self.frameHandler = NIOLoopBoundBox.makeEmptyBox(valueType: GatewayFrameHandler.self, eventLoop: channel.eventLoop)
    }

    /// The router's view of the session on this socket, while it is live.
    var routerSession: RouterSession? { shared.withLock { $0.routerSession } }
    var session: GatewaySession? { shared.withLock { $0.session } }
    var router: RTMCore.Router { gateway.router }
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
            if !Task.isCancelled && self.session == nil { self.close(code: 1008, reason: "login timeout") }
        }
        shared.withLock { $0.loginTimer = loginTimer }
        return true
    }

    /// A text message arrived (on the event loop). Returns how many requests now wait in the inbox;
    /// at ``GatewayFrameHandler/inboxHighWater`` the handler stops reading.
    func received(_ text: ByteBuffer) -> Int {
        enqueue(.text(text))
    }

    /// Closes the socket with `code` after the requests that arrived before (binary or oversized frames).
    func refuse(code: UInt16, reason: String) {
        _ = enqueue(.refuse(code: code, reason: reason))
    }

    private func enqueue(_ item: Inbound) -> Int {
        let (count, startPump) = shared.withLock { shared -> (Int, Bool) in
            guard !shared.finished, !shared.finishWhenIdle, !shared.closing else { return (0, false) }
            shared.inbox.append(item)
            if shared.inbox.count >= GatewayFrameHandler.inboxHighWater { shared.readingPaused = true }
            guard !shared.pumping else { return (shared.inbox.count, false) }
            shared.pumping = true
            return (shared.inbox.count, true)
        }
        if startPump { Task { await self.pump() } }
        return count
    }

    /// Handles the inbox in order until it is empty; the task then ends.
    private func pump() async {
        var loop = shared.withLock { $0.readLoop }
        while true {
            let (next, resumeReading, finishIdle) = shared.withLock { shared -> (Inbound?, Bool, Bool) in
                shared.readLoop = loop
                if loop.isClosing { shared.closing = true; shared.inbox.removeAll() }
                guard !shared.finished, let next = shared.inbox.popFirst() else {
                    shared.pumping = false
                    return (nil, false, shared.finishWhenIdle)
                }
                let resume = shared.readingPaused && shared.inbox.count < GatewayFrameHandler.inboxHighWater / 2
                if resume { shared.readingPaused = false }
                return (next, resume, false)
            }
            if resumeReading {
                let handler = frameHandler
                channel.eventLoop.execute { handler.value?.resumeReading() }
            }
            guard let next else {
                if finishIdle { finishNow() }
                return
            }
            switch next {
            case .text(let text):
                await handle(text, loop: &loop)
            case .refuse(let code, let reason):
                loop.isClosing = true
                close(code: code, reason: reason)
            }
        }
    }

    /// The socket is gone (on the event loop). Requests still waiting are handled first; then a live
    /// session waits for a resume for the grace period.
    func finish() {
        let now = shared.withLock { shared -> Bool in
            guard shared.pumping else { return true }
            shared.finishWhenIdle = true
            return false
        }
        frameHandler.value = nil
        if now { finishNow() }
    }

    private func finishNow() {
        let (routerSession, session, loginTimer) = shared.withLock { shared -> (RouterSession?, GatewaySession?, Task<Void, Never>?) in
            guard !shared.finished else { return (nil, nil, nil) }
            shared.finished = true
            shared.inbox.removeAll()
            defer { shared.routerSession = nil; shared.session = nil; shared.loginTimer = nil }
            return (shared.routerSession, shared.session, shared.loginTimer)
        }
        loginTimer?.cancel()
        if let routerSession, let session, session.detach(self) { router.detach(routerSession) }
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

    /// Writes everything queued to the socket, on its event loop: all frames of a batch in one pass
    /// with one flush (one syscall for many frames), batch after batch until the queue is empty (it is
    /// then idle; the next push schedules a drain). No task, promise or callback per batch.
    ///
    /// While NIO reports the socket not writable (more than its high-water mark of written data is
    /// waiting for the kernel), the drain stops and the queue keeps what is pushed; a client that does
    /// not read makes the queue grow and trips the slow-consumer bound. The socket's handler calls
    /// ``drain()`` again when it becomes writable.
    ///
    /// A batch of ``coalescingThreshold`` frames or more is copied into one buffer: NIO's list of
    /// pending writes then never grows past its initial size (it keeps its largest size for the
    /// socket's lifetime), and the kernel gets one buffer instead of many small ones.
    func drain() {
        while channel.isWritable {
            var items = queue.take()
            guard !items.isEmpty else { return }   // the queue is idle again
            var combined: ByteBuffer? = nil
            if items.count >= Self.coalescingThreshold {
                var bytes = 0
                for case .frame(let buffer) in items { bytes += buffer.readableBytes + TextFrameWriter.headerRoom }
                combined = channel.allocator.buffer(capacity: bytes)
            }
            while let item = items.popFirst() {
                switch consume item {
                case .frame(let buffer):
                    if combined != nil {
                        TextFrameWriter.appendFrame(buffer, to: &combined!)
                    } else {
                        writer.write(consume buffer, promise: nil)
                    }
                case .close(let code, let reason):
                    if let framed = combined.take() { writer.writeFramed(framed, promise: nil) }
                    writer.flush()
                    frameHandler.value?.sendClose(code: code, reason: reason, closeAfter: gateway.configuration.closeTimeout)
                    return   // the queue refuses pushes after a close; it never drains again
                }
            }
            if let framed = combined.take() { writer.writeFramed(framed, promise: nil) }
            writer.flush()
        }
        // Not writable: the queue stays claimed (pushes schedule nothing) until the handler sees the
        // socket writable again and calls drain().
    }

    /// Frames per batch from which the batch is written as one buffer.
    static let coalescingThreshold = 8

    /// Queues a close frame after what is already queued.
    func close(code: UInt16, reason: String) {
        queue.pushClose(code: code, reason: reason)
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
