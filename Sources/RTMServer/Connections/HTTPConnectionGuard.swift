import Logging
import NIOCore
import NIOHTTP1
import RTMCore
import RTMHTTPAPI

/// Holds one HTTP connection to its deadlines and answers the requests NIO's parser refuses, from
/// the accept until the connection closes or becomes a WebSocket (then it leaves the pipeline: an
/// upgraded socket follows the gateway's ping and dead-link rule instead).
///
/// It sits right after NIO's HTTP/1 request decoder, so it sees every request part before the
/// upgrade handler, the REST fast path and Hummingbird, and every response end on its way out (the
/// fast path's own answers as ``RESTFastPath/AnswerWritten``). Its ``ByteWatcher`` (made with
/// ``makeByteWatcher()``) sits at the socket end and tells it when the bytes of a request begin.
///
/// - A new connection's first request head must arrive within the header-read timeout of the
///   accept; on a kept-alive connection, within the header-read timeout of its first byte, and that
///   first byte within the idle timeout of the previous response's end.
/// - A body must not stall for longer than the idle timeout.
/// - While a request is being answered (a `wait_for_ack` send, a history query) no deadline runs.
/// - A request the parser refuses is answered 400 (431 for headers over the parser's limits, 414
///   for a request line over them) with `Connection: close`, and the connection is closed.
///
/// The deadlines share one timer per connection, moved only when a deadline comes earlier than the
/// timer (a read that ends inside a request head); otherwise it fires, finds a later deadline and
/// sleeps until it, so back-to-back requests cost no timer work. Times are milliseconds of the
/// settings' ``RTMClock``, so unit tests move them with a ``ManualClock``.
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum Phase {
        /// Waiting for a request's first byte (`first`: the connection's first request).
        case awaitingRequest(since: Int64, first: Bool)
        /// A request's bytes began arriving at `since`; its head is not complete.
        case readingHead(since: Int64)
        /// A head arrived; its body is still coming (`lastRead`: the latest bytes).
        case readingBody(lastRead: Int64)
        /// Requests were read and await their responses.
        case answering
        /// The connection is being closed by the guard.
        case finished
    }

    let settings: HTTPConnectionSettings
    let logger: Logger
    private(set) var phase: Phase
    /// Requests read whose response has not ended.
    private var pendingResponses = 0
    /// A response head was written and its end not yet.
    private var responseInProgress = false
    /// Whether the current request's bytes contained a line end (its request line is complete).
    private var requestLineComplete = false
    /// A refusal to write once the response in progress ends.
    private var deferredRefusal: (HTTPResponseStatus, HTTPConnectionClosure)?
    /// The peer, when its first request must name the client (it is a trusted proxy and connections
    /// per address are bounded).
    private var proxyPeer: String?
    /// Whether a request was read on this connection before.
    private var sawRequest = false
    /// The first request asks for a WebSocket upgrade.
    private var upgradeRequested = false
    /// That request has ended: NIO's upgrade handler takes over; inbound data passes untouched until
    /// the upgrade removes the guard or the connection closes.
    private var upgrading = false
    private var timer: (any RTMTimer)?
    private var timerDeadline: Int64?
    private var context: ChannelHandlerContext?

    init(settings: HTTPConnectionSettings, proxyPeer: String?, logger: Logger) {
        self.settings = settings
        self.proxyPeer = proxyPeer
        self.logger = logger
        phase = .awaitingRequest(since: settings.clock.nowMilliseconds(), first: true)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        ensureTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        self.context = nil
    }

    // MARK: Requests in

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if upgrading {
            // NIO removes its decoder before the upgrade completes; the bytes the client sent after
            // the upgrade request (WebSocket frames) then come through here, for the upgrade handler.
            context.fireChannelRead(data)
            return
        }
        switch (unwrapInboundIn(data), phase) {
        case (_, .finished):
            return   // the connection is closing: nothing more is read
        case (.head(let head), _):
            if let peer = proxyPeer {
                proxyPeer = nil
                guard admitProxied(head: head, peer: peer, context: context) else { return }
            }
            pendingResponses += 1
            phase = .readingBody(lastRead: settings.clock.nowMilliseconds())
            if !sawRequest, head.isWebSocketUpgrade { upgradeRequested = true }
            sawRequest = true
        case (.body, _):
            break
        case (.end, _):
            phase = .answering
            // NIO upgrades (or refuses and closes) only a connection's first request, once it has ended.
            if upgradeRequested { upgrading = true }
        }
        context.fireChannelRead(data)
    }

    /// A refused request: 400, 431 or 414 with `Connection: close`, then the connection closes.
    /// Other errors pass on.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if case .finished = phase { return }
        if parserError == .invalidEOFState {   // the peer closed in the middle of a request: nobody to answer
            phase = .finished
            context.close(promise: nil)
            return
        }
        switch parserError {
        case .headerOverflow where requestLineComplete: refuse(.requestHeaderFieldsTooLarge, .headersTooLarge)
        case .headerOverflow: refuse(.uriTooLong, .uriTooLong)
        default: refuse(.badRequest, .badRequest)
        }
    }

    // MARK: Responses out

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        context.write(data, promise: promise)
        switch part {
        case .head(let head) where head.status.code >= 200: responseInProgress = true
        case .head, .body: break
        case .end: responseEnded()
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is RESTFastPath.AnswerWritten else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        promise?.succeed()
        responseEnded()
    }

    private func responseEnded() {
        responseInProgress = false
        pendingResponses = max(0, pendingResponses - 1)
        if let (status, reason) = deferredRefusal {
            deferredRefusal = nil
            writeRefusal(status, reason)
            return
        }
        if pendingResponses == 0, case .answering = phase {
            phase = .awaitingRequest(since: settings.clock.nowMilliseconds(), first: false)
            ensureTimer()
        }
    }

    // MARK: Bytes in (from the byte watcher)

    func bytesArrived(_ bytes: ByteBuffer) {
        switch phase {
        case .awaitingRequest(let since, let first):
            phase = .readingHead(since: first ? since : settings.clock.nowMilliseconds())   // a new connection's deadline counts from its accept
            requestLineComplete = bytes.readableBytesView.contains(UInt8(ascii: "\n"))
        case .readingHead:
            if !requestLineComplete { requestLineComplete = bytes.readableBytesView.contains(UInt8(ascii: "\n")) }
        case .readingBody:
            phase = .readingBody(lastRead: settings.clock.nowMilliseconds())
        case .answering, .finished:
            break
        }
    }

    // MARK: Deadlines

    /// When the current phase ends the connection, and why.
    private var deadline: (Int64, HTTPConnectionClosure)? {
        switch phase {
        case .awaitingRequest(let since, true): (since + settings.headerReadTimeout, .headerTimeout)
        case .awaitingRequest(let since, false): (since + settings.idleTimeout, .idleTimeout)
        case .readingHead(let since): (since + settings.headerReadTimeout, .headerTimeout)
        case .readingBody(let lastRead): (lastRead + settings.idleTimeout, .idleTimeout)
        case .answering, .finished: nil
        }
    }

    /// Makes sure the timer fires no later than the current deadline.
    func ensureTimer() {
        guard let context, let (due, _) = deadline else { return }
        if let timerDeadline, timerDeadline <= due { return }
        timer?.cancel()
        timerDeadline = due
        let eventLoop = context.eventLoop
        let guardOnLoop = NIOLoopBound(self, eventLoop: eventLoop)
        timer = settings.clock.schedule(atMilliseconds: due, on: eventLoop) {
            // The real clock runs this on the loop; a manual clock, from a task.
            if eventLoop.inEventLoop { guardOnLoop.value.timerFired() } else { eventLoop.execute { guardOnLoop.value.timerFired() } }
        }
    }

    private func timerFired() {
        timer = nil
        timerDeadline = nil
        guard let context, let (due, reason) = deadline else { return }
        guard settings.clock.nowMilliseconds() >= due else {
            ensureTimer()
            return
        }
        phase = .finished
        reason.count()
        logger.debug("closing an HTTP connection", metadata: ["reason": "\(reason.rawValue)"])
        context.close(promise: nil)
    }

    // MARK: Refusing

    /// Answers `status` and closes; after the response in progress, if one is being written.
    private func refuse(_ status: HTTPResponseStatus, _ reason: HTTPConnectionClosure) {
        phase = .finished
        if responseInProgress {
            deferredRefusal = (status, reason)
        } else {
            writeRefusal(status, reason)
        }
    }

    private func writeRefusal(_ status: HTTPResponseStatus, _ reason: HTTPConnectionClosure) {
        guard let context else { return }
        reason.count()
        logger.debug("refusing an HTTP request", metadata: ["reason": "\(reason.rawValue)"])
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: ["connection": "close", "content-length": "0"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    // MARK: Connections per address behind a trusted proxy

    /// Counts the connection against the client its first request names; refuses it (429, close)
    /// when that client already holds the most connections allowed.
    private func admitProxied(head: HTTPRequestHead, peer: String, context: ChannelHandlerContext) -> Bool {
        guard let perAddress = settings.perAddress else { return true }
        let client = settings.addresses.clientAddress(peer: peer, headers: head.headers)
        guard perAddress.acquire(client) else {
            logger.debug("too many connections from one address", metadata: ["client": "\(client)"])
            refuse(.tooManyRequests, .perAddressLimit)
            return false
        }
        context.channel.closeFuture.whenComplete { _ in perAddress.release(client) }
        return true
    }
}

extension HTTPRequestHead {
    /// `Upgrade: websocket` with `Connection: upgrade`, the request NIO's upgrade handler acts on.
    var isWebSocketUpgrade: Bool {
        headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
            && headers["upgrade"].contains { $0.lowercased() == "websocket" }
    }
}
