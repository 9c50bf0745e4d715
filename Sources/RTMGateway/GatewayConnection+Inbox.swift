import NIOCore

/// The inbox: requests from the socket's handler, handled in order by a task that exists only while
/// there is work.
extension GatewayConnection {
    /// A text message arrived (on the event loop). Returns whether the inbox reached its bound
    /// (``GatewayFrameHandler/inboxHighWater`` requests or ``GatewayConfiguration/maximumInboxBytes``):
    /// the handler then stops reading until half of it is handled.
    func received(_ text: ByteBuffer) -> Bool {
        enqueue(.text(text))
    }

    /// Closes the socket with `code` after the requests that arrived before (binary or oversized frames).
    func refuse(code: UInt16, reason: String) {
        _ = enqueue(.refuse(code: code, reason: reason))
    }

    private func enqueue(_ item: Inbound) -> Bool {
        let maximumBytes = gateway.configuration.maximumInboxBytes
        let (pause, startPump) = shared.withLock { shared -> (Bool, Bool) in
            guard !shared.finished, !shared.finishWhenIdle, !shared.closing else { return (false, false) }
            shared.inbox.append(item)
            shared.inboxBytes += item.size
            let full = shared.inbox.count >= GatewayFrameHandler.inboxHighWater || shared.inboxBytes >= maximumBytes
            if full { shared.readingPaused = true }
            guard !shared.pumping else { return (full, false) }
            shared.pumping = true
            return (full, true)
        }
        if pause { gateway.metrics.inboxPauses.increment() }
        if startPump { Task { await self.pump() } }
        return pause
    }

    /// Handles the inbox in order until it is empty; the task then ends.
    private func pump() async {
        let maximumBytes = gateway.configuration.maximumInboxBytes
        var loop = shared.withLock { $0.readLoop }
        while true {
            let (next, resumeReading, finishIdle) = shared.withLock { shared -> (Inbound?, Bool, Bool) in
                shared.readLoop = loop
                if loop.isClosing { shared.closing = true; shared.inbox.removeAll(); shared.inboxBytes = 0 }
                guard !shared.finished, let next = shared.inbox.popFirst() else {
                    shared.pumping = false
                    return (nil, false, shared.finishWhenIdle)
                }
                shared.inboxBytes -= next.size
                let resume = shared.readingPaused && shared.inbox.count < GatewayFrameHandler.inboxHighWater / 2
                    && shared.inboxBytes < maximumBytes / 2
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
}
