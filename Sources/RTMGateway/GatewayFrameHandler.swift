import Logging
import NIOCore
import NIOWebSocket

/// The last handler of an upgraded socket: WebSocket frames in, requests to its ``GatewayConnection``.
///
/// There is no task per socket. Frames arrive on the event loop (whole messages: NIO's frame
/// aggregator sits in front); control frames are answered here, text messages go to the
/// connection's inbox, whose requests run in order on a task that exists only while there is work.
/// Pings come from the event loop's ``LoopPinger`` (one timer per loop, not one per socket).
final class GatewayFrameHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let gateway: Gateway
    private let logger: Logger
    private var connection: GatewayConnection?
    private var context: ChannelHandlerContext?
    private var pinger: LoopPinger?
    /// A ping went out and nothing has come back since (the next tick closes the link).
    private(set) var awaitingPong = false
    /// A close frame went out (ours, or the answer to the peer's).
    private var closeSent = false
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
        awaitingPong = false   // anything from the peer shows the link is alive
        guard let connection else { return }
        switch frame.opcode {
        case .text:
            if connection.received(frame.unmaskedData) >= Self.inboxHighWater {
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            }
        case .binary:
            connection.refuse(code: 1003, reason: "binary frames are not supported")
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            peerClosed(frame.unmaskedData, context: context)
        default:
            break   // pongs; continuation frames never get past the aggregator
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case is NIOWebSocketError:
            break   // NIO's protocol error handler already sent the close frame and closes the socket
        case NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge:
            connection?.refuse(code: 1009, reason: "message too big")
        case is NIOWebSocketFrameAggregator.Error:
            connection?.refuse(code: 1002, reason: "bad fragmentation")
        default:
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

    /// Called by the loop's pinger every ping interval: a link that did not answer the last ping is closed.
    func pingTick() {
        guard let context else { return }
        if awaitingPong {
            logger.debug("no pong within the ping interval; closing the link")
            context.close(promise: nil)
            return
        }
        awaitingPong = true
        let ping = WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer())
        context.writeAndFlush(wrapOutboundOut(ping), promise: nil)
    }
}
