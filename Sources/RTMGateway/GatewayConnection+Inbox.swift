import NIOCore

/// The inbox: requests from the socket's handler, handled in order by a task that exists only while
/// there is work.
extension GatewayConnection {
    /// A text message arrived (on the event loop). Returns how many requests now wait in the inbox;
    /// at ``GatewayFrameHandler/inboxHighWater`` the handler stops reading.
    func received(_ text: ByteBuffer) -> Int {
        enqueue(.text(text))
    }

    /// Closes the socket with `code` after the requests that arrived before (binary or oversized frames).
    func refuse(code: UInt16, reason: String) {
        _ = enqueue(.refuse(code: code, reason: reason))
    }

    private func enqueue(_ item: Inbound) -> Int {
        let (count, startPump) = shared.withLock { shared -> (Int, Bool) in
            guard !shared.finished, !shared.finishWhenIdle, !shared.closing else { return (0, false) }
            shared.inbox.append(item)
            if shared.inbox.count >= GatewayFrameHandler.inboxHighWater { shared.readingPaused = true }
            guard !shared.pumping else { return (shared.inbox.count, false) }
            shared.pumping = true
            return (shared.inbox.count, true)
        }
        if startPump { Task { await self.pump() } }
        return count
    }

    /// Handles the inbox in order until it is empty; the task then ends.
    private func pump() async {
        var loop = shared.withLock { $0.readLoop }
        while true {
            let (next, resumeReading, finishIdle) = shared.withLock { shared -> (Inbound?, Bool, Bool) in
                shared.readLoop = loop
                if loop.isClosing { shared.closing = true; shared.inbox.removeAll() }
                guard !shared.finished, let next = shared.inbox.popFirst() else {
                    shared.pumping = false
                    return (nil, false, shared.finishWhenIdle)
                }
                let resume = shared.readingPaused && shared.inbox.count < GatewayFrameHandler.inboxHighWater / 2
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
