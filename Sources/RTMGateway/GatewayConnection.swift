import AgoraToken
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import RTMCore
import RTMProtocol
import Synchronization

/// One client socket: reads requests in order, answers each, and writes everything queued for it.
///
/// The read loop owns the per-socket limits. Other tasks (router fan-out, ack waits, the token
/// timer) only touch the socket through the ``OutboundQueue`` and the small locked `shared` state.
final class GatewayConnection: SessionSink, Sendable {
    struct Shared {
        var session: RouterSession?
        var tokenTimer: Task<Void, Never>?
        var finished = false
    }

    let gateway: Gateway
    let outbound: WebSocketOutboundWriter
    let channel: any Channel
    let logger: Logger
    let queue: OutboundQueue
    let shared = Mutex(Shared())

    init(gateway: Gateway, outbound: WebSocketOutboundWriter, channel: any Channel, logger: Logger) {
        self.gateway = gateway
        self.outbound = outbound
        self.channel = channel
        self.logger = logger
        self.queue = OutboundQueue(maximumFrames: gateway.configuration.maximumQueuedFrames,
                                   maximumBytes: gateway.configuration.maximumQueuedBytes)
    }

    var session: RouterSession? { shared.withLock { $0.session } }
    var router: Router { gateway.router }
    var clock: any RTMClock { gateway.clock }

    // MARK: Life cycle

    func run(inbound: WebSocketInboundStream) async {
        let writer = Task { await self.writeLoop() }
        let loginTimer = Task { [clock, configuration = gateway.configuration] in
            try? await clock.sleep(for: configuration.loginTimeout)
            if !Task.isCancelled && self.session == nil { self.close(code: 1008, reason: "login timeout") }
        }
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
        writer.cancel()
        await writer.value
    }

    /// Leaves the router and stops timers; safe to call more than once.
    private func finish() {
        let (session, timer) = shared.withLock { shared -> (RouterSession?, Task<Void, Never>?) in
            shared.finished = true
            defer { shared.session = nil; shared.tokenTimer = nil }
            return (shared.session, shared.tokenTimer)
        }
        timer?.cancel()
        if let session { router.logout(session) }
        queue.shutdown()
    }

    private func writeLoop() async {
        while let items = await queue.next() {
            for item in items {
                do {
                    switch item {
                    case .frame(let buffer):
                        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: buffer)))
                    case .close(let code, let reason):
                        try await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: reason)
                        return
                    }
                } catch {
                    return
                }
            }
        }
    }

    /// Queues a close frame after what is already queued.
    func close(code: UInt16, reason: String) {
        queue.pushClose(code: code, reason: reason)
    }

    // MARK: SessionSink

    func enqueueEvent(_ body: ByteBuffer) -> Bool {
        switch queue.pushEvent(body) {
        case .queued: return true
        case .closed: return false
        case .overflowed:
            closeSlowConsumer()
            return false
        }
    }

    func terminate(_ reason: SessionTermination) {
        let event: ServerEvent
        let code: UInt16
        switch reason {
        case .remoteLogin:
            event = .connectionState(state: ConnectionState.aborted.rawValue, reason: ConnectionChangeReason.remoteLogin.rawValue)
            code = RTMCloseCode.remoteLogin
        case .tokenExpired:
            event = .connectionState(state: ConnectionState.aborted.rawValue, reason: ConnectionChangeReason.tokenExpired.rawValue)
            code = RTMCloseCode.tokenExpired
        case .serverShutdown:
            event = .connectionState(state: ConnectionState.reconnecting.rawValue, reason: ConnectionChangeReason.interrupted.rawValue)
            code = 1001
        }
        let session = shared.withLock { shared -> RouterSession? in
            defer { shared.session = nil }
            return shared.session
        }
        if reason != .remoteLogin, let session { router.logout(session) }
        _ = queue.pushEvent(ByteBuffer(bytes: event.encodeBody()))
        close(code: code, reason: "\(reason)")
    }

    /// The client stopped reading and its queue overflowed: drop it from routing, try to say 4005,
    /// and close the TCP connection shortly after whether or not that frame could be written.
    private func closeSlowConsumer() {
        gateway.metrics.slowConsumers.increment()
        logger.notice("closing slow consumer")
        let session = shared.withLock { shared -> RouterSession? in
            defer { shared.session = nil }
            return shared.session
        }
        if let session { router.logout(session) }
        let outbound = outbound
        Task { try? await outbound.close(WebSocketErrorCode(codeNumber: Int(RTMCloseCode.slowConsumer)), reason: "slow consumer") }
        let channel = channel
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    // MARK: Replies

    func reply(_ id: Int64, code: Int, _ fill: (inout ReplyBuilder) -> Void = { _ in }) {
        var builder = ReplyBuilder(id: id, code: code)
        fill(&builder)
        if queue.pushFrame(ByteBuffer(bytes: builder.finish())) == .overflowed { closeSlowConsumer() }
    }

    func sendEvent(_ event: ServerEvent) {
        if queue.pushEvent(ByteBuffer(bytes: event.encodeBody())) == .overflowed { closeSlowConsumer() }
    }
}

/// State only the read loop touches.
struct ReadLoop {
    var limits: SessionRateLimits
    var protocolErrorTimes: [Int64] = []
    var isClosing = false
}
