import DequeModule
import NIOCore

/// Writing what the outbound queue holds to the socket.
extension GatewayConnection {
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
            var batch = queue.take()
            guard !batch.isEmpty else { return }   // the queue is idle again
            if let pong = batch.pong.take() { frameHandler.value?.writePong(pong) }
            var items = Deque<OutboundQueue.Item>()
            swap(&items, &batch.items)   // moved, not shared: popping must not copy the deque or its buffers
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
}
