import NIOCore

/// Pings every socket of one event loop from a single repeating timer, so an idle socket costs no
/// timer of its own. Used only on its loop (the gateway makes one per loop, on first use).
final class LoopPinger: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let interval: TimeAmount
    private var handlers: [ObjectIdentifier: GatewayFrameHandler] = [:]
    private var timer: RepeatedTask?

    init(eventLoop: any EventLoop, interval: Duration) {
        self.eventLoop = eventLoop
        self.interval = TimeAmount(interval)
    }

    /// Starts pinging `handler`'s socket (the timer starts with the loop's first socket).
    func register(_ handler: GatewayFrameHandler) {
        eventLoop.preconditionInEventLoop()
        handlers[ObjectIdentifier(handler)] = handler
        guard timer == nil else { return }
        timer = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in tick() }
    }

    /// Stops pinging `handler`'s socket (the timer stops with the loop's last socket).
    func unregister(_ handler: GatewayFrameHandler) {
        eventLoop.preconditionInEventLoop()
        handlers.removeValue(forKey: ObjectIdentifier(handler))
        if handlers.isEmpty {
            timer?.cancel()
            timer = nil
        }
    }

    /// Pings every socket of the loop once and closes those that did not answer the previous ping.
    /// Returns how many sockets it closed.
    @discardableResult
    func tick() -> Int {
        eventLoop.preconditionInEventLoop()
        // A tick may close sockets, which unregisters them: iterate over a snapshot.
        var closed = 0
        for handler in Array(handlers.values) where handler.pingTick() { closed += 1 }
        return closed
    }

    /// How many sockets the loop pings.
    var socketCount: Int {
        eventLoop.preconditionInEventLoop()
        return handlers.count
    }

    /// The most bytes one of the loop's sockets has waiting to be written.
    var largestOutboundBacklog: Int {
        eventLoop.preconditionInEventLoop()
        return handlers.values.map(\.outboundBacklog).max() ?? 0
    }

    /// How many of the loop's sockets have not answered their last ping.
    var unansweredCount: Int {
        eventLoop.preconditionInEventLoop()
        return handlers.values.reduce(0) { $0 + ($1.awaitingPong ? 1 : 0) }
    }
}
