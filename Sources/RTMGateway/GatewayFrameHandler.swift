import Logging
import NIOCore
import NIOWebSocket
import RTMProtocol

/// The last handler of an upgraded socket: WebSocket frames in, requests to its ``GatewayConnection``.
///
/// There is no task per socket. Frames arrive on the event loop from NIO's frame decoder; control
/// frames are answered here, fragments are joined here, text messages go to the connection's inbox,
/// whose requests run in order on a task that exists only while there is work.
/// Pings come from the event loop's ``LoopPinger`` (one timer per loop, not one per socket).
/// Frames that break RFC 6455 (``FrameRules``) close the socket with 1002, or 1007 for text that is
/// not UTF-8.
final class GatewayFrameHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let gateway: Gateway
    private let logger: Logger
    private var connection: GatewayConnection?
    private var context: ChannelHandlerContext?
    private var pinger: LoopPinger?
    /// The payload of the ping that went out and has not been answered (the next tick closes the
    /// link). Only a pong echoing it answers: a client that sends but never reads cannot keep a dead
    /// link open with pings, pongs or requests of its own.
    private var expectedPong: ByteBuffer?
    var awaitingPong: Bool { expectedPong != nil }
    /// A close frame went out (ours, or the answer to the peer's).
    private var closeSent = false
    /// A framing error closed the socket: nothing more it sends is looked at.
    private var failed = false
    /// A fragmented message being put together (rare: clients send small whole frames).
    private var fragments: Fragments?
    struct Fragments {
        var isText: Bool
        var data: ByteBuffer
        var count: Int
    }
    /// Frames one message may be split into.
    static let maximumFragments = 256
    /// Requests waiting in the inbox past which the socket stops reading until they are handled.
    static let inboxHighWater = 64

    init(gateway: Gateway, logger: Logger) {
        self.gateway = gateway
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let connection = GatewayConnection(gateway: gateway, channel: context.channel, logger: logger)
        self.connection = connection
        gateway.metrics.connections.increment()
        gateway.metrics.openConnections.increment()
        guard connection.start(frameWriter: self) else {
            logger.error("WebSocket pipeline without NIO's frame encoder; closing the socket")
            context.close(promise: nil)
            return
        }
        let pinger = gateway.pinger(for: context.eventLoop)
        pinger.register(self)
        self.pinger = pinger
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        end()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    private func end() {
        guard let connection else { return }
        self.connection = nil
        pinger?.unregister(self)
        pinger = nil
        gateway.metrics.openConnections.decrement()
        connection.finish()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let connection, !failed else { return }
        if let violation = FrameRules.violation(of: frame) { return failProtocol(code: violation.code, reason: violation.reason) }
        switch frame.opcode {
        case .text, .binary:
            guard fragments == nil else { return failProtocol(code: RTMCloseCode.protocolError, reason: "a new message inside a fragmented one") }
            if frame.fin {
                deliver(frame.unmaskedData, isText: frame.opcode == .text, context: context)
            } else {
                fragments = Fragments(isText: frame.opcode == .text, data: frame.unmaskedData, count: 1)
            }
        case .continuation:
            guard var message = fragments else { return failProtocol(code: RTMCloseCode.protocolError, reason: "a continuation without a message") }
            fragments = nil
            message.count += 1
            var data = frame.unmaskedData
            guard message.data.readableBytes + data.readableBytes <= gateway.configuration.maximumFrameBytes else {
                return failProtocol(code: RTMCloseCode.messageTooBig, reason: "message too big")
            }
            guard message.count <= Self.maximumFragments else { return failProtocol(code: RTMCloseCode.messageTooBig, reason: "too many fragments") }
            message.data.writeBuffer(&data)
            if frame.fin {
                deliver(message.data, isText: message.isText, context: context)
            } else {
                fragments = message
            }
        case .ping:
            // Answered through the outbound queue: counted against its bound, written when the socket is writable.
            if connection.queue.pushPong(frame.unmaskedData) == .overflowed { connection.closeSlowConsumer() }
        case .pong:
            if let expected = expectedPong, frame.unmaskedData == expected { expectedPong = nil }
        case .connectionClose:
            peerClosed(frame.unmaskedData, context: context)
        default:
            break   // FrameRules refused the reserved opcodes
        }
    }

    /// A whole message: text goes to the connection's inbox; binary closes the socket with 1003.
    private func deliver(_ data: ByteBuffer, isText: Bool, context: ChannelHandlerContext) {
        guard let connection else { return }
        guard isText else { return connection.refuse(code: RTMCloseCode.unsupportedData, reason: "binary frames are not supported") }
        guard FrameRules.isValidUTF8(data) else { return failProtocol(code: RTMCloseCode.invalidPayload, reason: "text is not valid UTF-8") }
        if connection.received(data) {
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    /// A framing error: nothing more is read; the socket gets a close frame with `code` and is closed.
    private func failProtocol(code: UInt16, reason: String) {
        fragments = nil
        failed = true
        gateway.metrics.protocolErrors.increment()
        sendClose(code: code, reason: reason, closeAfter: .zero)
        connection?.refuse(code: code, reason: reason)   // stops further requests; its own close is then a no-op
    }

    /// NIO's buffered writes fell below the low-water mark: the connection writes what it queued meanwhile.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { connection?.drain() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIO's frame decoder fails on frames over the size limit and on malformed frames; after an
        // error it reads nothing more, so the socket is closed.
        if let error = error as? NIOWebSocketError {
            failProtocol(code: error == .invalidFrameLength ? 1009 : 1002, reason: "\(error)")
        } else {
            logger.debug("socket error: \(error)")
            context.close(promise: nil)
        }
    }

    // MARK: Writes of control frames (on the event loop)

    /// Resumes reading once the inbox has room again.
    func resumeReading() {
        context?.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
    }

    /// Starts the closing handshake: a close frame with `code`, then the socket is closed when the
    /// peer answers with its own close frame, or after `closeAfter` at the latest.
    func sendClose(code: UInt16, reason: String, closeAfter: Duration) {
        guard let context, !closeSent else { return }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.writeInteger(code)
        data.writeString(String(reason.utf8.prefix(123)) ?? "")
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        let channel = context.channel
        channel.eventLoop.scheduleTask(in: TimeAmount(closeAfter)) { channel.close(promise: nil) }
    }

    /// The peer sent a close frame: answer it (echoing its code) unless it answers ours, then close.
    private func peerClosed(_ data: ByteBuffer, context: ChannelHandlerContext) {
        if let violation = FrameRules.violation(ofClosePayload: data) { return failProtocol(code: violation.code, reason: violation.reason) }
        guard !closeSent else {
            context.close(promise: nil)
            return
        }
        closeSent = true
        var echo = context.channel.allocator.buffer(capacity: 2)
        if let code = data.getInteger(at: data.readerIndex, as: UInt16.self) { echo.writeInteger(code) }
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: echo)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Called by the loop's pinger every ping interval: a link that did not answer the last ping is
    /// closed (returns `true`), any other is pinged.
    func pingTick() -> Bool {
        guard let context else { return false }
        if awaitingPong {
            logger.debug("no pong within the ping interval; closing the link")
            gateway.metrics.deadLinks.increment()
            context.close(promise: nil)
            return true
        }
        var payload = context.channel.allocator.buffer(capacity: 8)
        payload.writeInteger(UInt64.random(in: .min ... .max))
        expectedPong = payload
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: payload)), promise: nil)
        return false
    }

    /// Bytes waiting to be written to the socket: the connection's queue and NIO's buffered writes.
    var outboundBacklog: Int {
        guard let context else { return 0 }
        let buffered = (try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
        return (connection?.queue.heldBytes ?? 0) + buffered
    }

    /// Writes the answer to the client's ping (from the connection's drain, which flushes).
    func writePong(_ data: ByteBuffer) {
        context?.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: data)), promise: nil)
    }
}
