import Logging
import NIOCore
import NIOWebSocket
import RTMProtocol

/// The last handler of an upgraded socket: WebSocket frames in, requests to its ``GatewayConnection``.
///
/// There is no task per socket. Frames arrive on the event loop from NIO's frame decoder; its
/// ``FrameStateMachine`` decides what each calls for (join fragments, answer a ping or a close, fail
/// the connection) and this handler does it: text messages go to the connection's inbox, whose
/// requests run in order on a task that exists only while there is work.
/// Pings come from the event loop's ``LoopPinger`` (one timer per loop, not one per socket).
final class GatewayFrameHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let gateway: Gateway
    private let logger: Logger
    private var connection: GatewayConnection?
    private var context: ChannelHandlerContext?
    private var pinger: LoopPinger?
    /// Fragments, the ping awaiting its pong, the closing handshake: decided there, done here.
    private var state: FrameStateMachine
    var awaitingPong: Bool { state.expectedPong != nil }

    init(gateway: Gateway, logger: Logger) {
        self.gateway = gateway
        self.logger = logger
        self.state = FrameStateMachine(maximumMessageBytes: gateway.configuration.maximumFrameBytes)
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
        guard connection != nil else { return }
        perform(state.received(unwrapInboundIn(data)), context: context)
    }

    /// Does what the state machine decided for a frame.
    private func perform(_ action: FrameStateMachine.Action, context: ChannelHandlerContext) {
        guard let connection else { return }
        switch action {
        case .none:
            break
        case .deliver(let text):
            if connection.received(text) {
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            }
        case .refuseBinary:
            connection.refuse(code: RTMCloseCode.unsupportedData, reason: "binary frames are not supported")
        case .fail(let code, let reason):
            gateway.metrics.protocolErrors.increment()
            sendClose(code: code, reason: reason, closeAfter: .zero)
            connection.refuse(code: code, reason: reason)   // stops further requests; its own close is then a no-op
        case .answerPing(let payload):
            // Answered through the outbound queue: counted against its bound, written when the socket is writable.
            if connection.queue.pushPong(payload) == .overflowed { connection.closeSlowConsumer() }
        case .answerClose(let code):
            var echo = context.channel.allocator.buffer(capacity: 2)
            if let code { echo.writeInteger(code) }
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: echo)))
                .whenComplete { _ in channel.close(promise: nil) }
        case .closeSocket:
            context.close(promise: nil)
        }
    }

    /// NIO's buffered writes fell below the low-water mark: the connection writes what it queued meanwhile.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { connection?.drain() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NIOWebSocketError {
            perform(state.decoderFailed(error), context: context)
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
        guard let context, state.startClosing() else { return }
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.writeInteger(code)
        data.writeString(String(reason.utf8.prefix(123)) ?? "")
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        let channel = context.channel
        channel.eventLoop.scheduleTask(in: TimeAmount(closeAfter)) { channel.close(promise: nil) }
    }

    /// Called by the loop's pinger every ping interval: a link that did not answer the last ping is
    /// closed (returns `true`), any other is pinged.
    func pingTick() -> Bool {
        guard let context else { return false }
        var payload = context.channel.allocator.buffer(capacity: 8)
        payload.writeInteger(UInt64.random(in: .min ... .max))
        switch state.pingTick(payload: payload) {
        case .closeDeadLink:
            logger.debug("no pong within the ping interval; closing the link")
            gateway.metrics.deadLinks.increment()
            context.close(promise: nil)
            return true
        case .ping(let payload):
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: payload)), promise: nil)
            return false
        }
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
