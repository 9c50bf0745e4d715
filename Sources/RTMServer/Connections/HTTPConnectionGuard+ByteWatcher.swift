import NIOCore

extension HTTPConnectionGuard {
    /// The guard's eyes at the socket end of the pipeline: NIO's decoder reports a request only once
    /// its head is complete, so the bytes before it (when a request begins, whether its request line
    /// ended) are seen here.
    final class ByteWatcher: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer

        private let owner: HTTPConnectionGuard

        fileprivate init(owner: HTTPConnectionGuard) {
            self.owner = owner
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            owner.bytesArrived(unwrapInboundIn(data))
            context.fireChannelRead(data)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            owner.ensureTimer()
            context.fireChannelReadComplete()
        }
    }

    /// The handler to add at the socket end of the pipeline (`.first`), one per guard.
    func makeByteWatcher() -> ByteWatcher {
        ByteWatcher(owner: self)
    }
}
