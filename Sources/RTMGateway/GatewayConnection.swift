import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import RTMCore
import RTMProtocol
import Synchronization

/// One client socket: reads requests in order, answers each, and writes everything queued for it.
///
/// The read loop owns the per-socket limits. Events reach the socket through its
/// ``GatewaySession`` (which numbers them and keeps replay buffers) and the ``OutboundQueue``.
final class GatewayConnection: Sendable {
    struct Shared {
        var routerSession: RouterSession?
        var session: GatewaySession?
        var finished = false
        /// Ends an unauthenticated socket after the login timeout; cancelled at login to free it early.
        var loginTimer: Task<Void, Never>?
    }

    let gateway: Gateway
    let outbound: WebSocketOutboundWriter
    let channel: any Channel
    let logger: Logger
    let queue: OutboundQueue
    let writer: TextFrameWriter
    let shared = Mutex(Shared())
    private let slowConsumerClosed = Atomic<Bool>(false)

    init(gateway: Gateway, outbound: WebSocketOutboundWriter, channel: any Channel, logger: Logger) {
        self.gateway = gateway
        self.outbound = outbound
        self.channel = channel
        self.writer = TextFrameWriter(channel: channel)
        self.logger = logger
        self.queue = OutboundQueue(maximumFrames: gateway.configuration.maximumQueuedFrames,
                                   maximumBytes: gateway.configuration.maximumQueuedBytes)
    }

    /// The router's view of the session on this socket, while it is live.
    var routerSession: RouterSession? { shared.withLock { $0.routerSession } }
    var session: GatewaySession? { shared.withLock { $0.session } }
    var router: RTMCore.Router { gateway.router }
    var clock: any RTMClock { gateway.clock }

    // MARK: Life cycle

    func run(inbound: WebSocketInboundStream) async {
        guard await writer.start() else {
            logger.error("WebSocket pipeline without NIO's frame encoder; closing the socket")
            return
        }
        let eventLoop = channel.eventLoop
        queue.start { eventLoop.execute { self.drain() } }
        let loginDeadline = clock.nowMilliseconds() + gateway.configuration.loginTimeout.milliseconds
        let loginTimer = Task { [clock] in
            try? await clock.sleep(untilMilliseconds: loginDeadline)
            if !Task.isCancelled && self.session == nil { self.close(code: 1008, reason: "login timeout") }
        }
        shared.withLock { $0.loginTimer = loginTimer }
        var loop = ReadLoop(limits: SessionRateLimits(limits: gateway.configuration.limits))
        do {
            var iterator = inbound.makeAsyncIterator()
            while let message = try await iterator.nextMessage(maxSize: gateway.configuration.maximumFrameBytes) {
                if loop.isClosing { continue }
                switch message {
                case .binary:
                    loop.isClosing = true
                    close(code: 1003, reason: "binary frames are not supported")
                case .text(let text):
                    await handle(text, loop: &loop)
                }
            }
        } catch {
            logger.debug("socket ended: \(error)")
        }
        loginTimer.cancel()
        finish()
    }

    /// The socket is gone: a live session waits for a resume for the grace period.
    private func finish() {
        let (routerSession, session) = shared.withLock { shared -> (RouterSession?, GatewaySession?) in
            shared.finished = true
            defer { shared.routerSession = nil; shared.session = nil }
            return (shared.routerSession, shared.session)
        }
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
    /// with one flush (one syscall for many frames). The next batch starts when the last frame of this
    /// one is written, so a client that does not read makes the queue grow (and trips the
    /// slow-consumer bound) instead of NIO's buffers. No task is involved.
    private func drain() {
        var items = queue.take()
        guard !items.isEmpty else { return }
        while let item = items.popFirst() {
            switch consume item {
            case .frame(let buffer):
                // Only the batch's last write carries a promise (the others would allocate one each for nothing).
                guard items.isEmpty else {
                    writer.write(consume buffer, promise: nil)
                    continue
                }
                let written = channel.eventLoop.makePromise(of: Void.self)
                writer.write(consume buffer, promise: written)
                writer.flush()
                written.futureResult.whenComplete { _ in self.drain() }
                return
            case .close(let code, let reason):
                writer.flush()
                let outbound = outbound
                Task { try? await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: reason) }
                return
            }
        }
    }

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
        let outbound = outbound
        Task { try? await outbound.close(WebSocketErrorCode(codeNumber: Int(RTMCloseCode.slowConsumer)), reason: "slow consumer") }
        let channel = channel
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
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

/// State only the read loop touches.
struct ReadLoop {
    var limits: SessionRateLimits
    var protocolErrorTimes: [Int64] = []
    var isClosing = false
}
