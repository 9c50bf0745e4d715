import NIOCore
import Synchronization

/// Runs the drains of one event loop's sockets: a fan-out that gives work to a thousand sockets of a
/// loop schedules one task on it, not one closure per socket.
final class LoopDrainer: Sendable {
    private struct State {
        var pending: [GatewayConnection] = []
        var scheduled = false
    }

    private let eventLoop: any EventLoop
    private let state = Mutex(State())

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Drains `connection` soon, on this loop (from any thread).
    func schedule(_ connection: GatewayConnection) {
        let first = state.withLock { state -> Bool in
            state.pending.append(connection)
            defer { state.scheduled = true }
            return !state.scheduled
        }
        if first { eventLoop.execute { self.run() } }
    }

    private func run() {
        let connections = state.withLock { state -> [GatewayConnection] in
            state.scheduled = false
            var taken: [GatewayConnection] = []
            swap(&taken, &state.pending)
            return taken
        }
        for connection in connections { connection.drain() }
    }
}
