import NIOCore

/// The inbox: requests from the socket's handler, handled in order by a task that exists only while
/// there is work. What to do is decided by the ``Inbox`` value under the connection's lock.
extension GatewayConnection {
    /// A text message arrived (on the event loop). Returns whether the inbox reached its bound
    /// (``Inbox/maximumRequests`` requests or ``GatewayConfiguration/maximumInboxBytes``):
    /// the handler then stops reading until half of it is handled.
    func received(_ text: ByteBuffer) -> Bool {
        add(.text(text))
    }

    /// Closes the socket with `code` after the requests that arrived before (binary frames, framing errors).
    func refuse(code: UInt16, reason: String) {
        _ = add(.refuse(code: code, reason: reason))
    }

    private func add(_ item: Inbox.Item) -> Bool {
        let added = shared.withLock { $0.inbox.add(item) }
        if added.pauseReading { gateway.metrics.inboxPauses.increment() }
        if added.startHandling { Task { await self.handleInbox() } }
        return added.pauseReading
    }

    /// Handles the inbox in order until it is empty; the task then ends.
    private func handleInbox() async {
        var loop = shared.withLock { $0.readLoop }
        while true {
            let next = shared.withLock { shared -> Inbox.Next in
                shared.readLoop = loop
                if loop.isClosing { shared.inbox.shut() }
                return shared.inbox.next()
            }
            switch next {
            case .idle(let finish):
                if finish { finishNow() }
                return
            case .handle(let item, let resumeReading):
                if resumeReading {
                    let handler = frameHandler
                    channel.eventLoop.execute { handler.value?.resumeReading() }
                }
                switch item {
                case .text(let text):
                    await handle(text, loop: &loop)
                case .refuse(let code, let reason):
                    loop.isClosing = true
                    close(code: code, reason: reason)
                }
            }
        }
    }
}
