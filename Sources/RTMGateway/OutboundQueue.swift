import DequeModule
import NIOCore
import Synchronization

/// The bounded queue between everything that sends to one client and its socket. Pushing never
/// blocks; past `maximumFrames` or `maximumBytes` the queue overflows and refuses everything after
/// (the connection is then closed as a slow consumer).
///
/// There is no writer task: the first push into an idle queue calls the `onWork` hook (which
/// schedules a drain on the socket's event loop); the drain takes everything with ``take()`` and
/// keeps taking until the queue is empty, which makes it idle again.
final class OutboundQueue: Sendable {
    enum Item: Sendable {
        case frame(ByteBuffer)
        case close(code: UInt16, reason: String)
    }

    enum PushResult: Equatable {
        case queued
        case closed
        /// This push made the queue overflow; the caller closes the connection.
        case overflowed
    }

    private struct State {
        var items = Deque<Item>()
        var bytes = 0
        var isClosed = false
        /// A drain is scheduled or running; pushes then need not schedule one.
        var draining = false
        var onWork: (@Sendable () -> Void)?
    }

    let maximumFrames: Int
    let maximumBytes: Int
    private let state = Mutex(State())

    init(maximumFrames: Int, maximumBytes: Int) {
        self.maximumFrames = maximumFrames
        self.maximumBytes = maximumBytes
    }

    /// Sets what to call when work arrives in an idle queue (and calls it if work is already waiting).
    func start(onWork: @escaping @Sendable () -> Void) {
        let wake = state.withLock { state -> Bool in
            state.onWork = onWork
            guard !state.items.isEmpty, !state.draining else { return false }
            state.draining = true
            return true
        }
        if wake { onWork() }
    }

    /// Queues a frame's payload; it is consumed, so the queue holds its only reference.
    func pushFrame(_ frame: consuming ByteBuffer) -> PushResult {
        let size = frame.readableBytes
        var item: Item? = .frame(consume frame)   // moved into the queue with `take()`, leaving no second reference here
        let (result, wake) = state.withLock { state -> (PushResult, (@Sendable () -> Void)?) in
            guard !state.isClosed else { return (.closed, nil) }
            if state.items.count + 1 > maximumFrames || state.bytes + size > maximumBytes {
                state.isClosed = true
                state.items.removeAll()
                return (.overflowed, nil)
            }
            state.items.append(item.take()!)
            state.bytes += size
            return (.queued, Self.claimDrain(&state))
        }
        wake?()
        return result
    }

    /// Queues a close after everything already queued, then refuses further pushes.
    func pushClose(code: UInt16, reason: String) {
        let wake = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.isClosed else { return nil }
            state.isClosed = true
            state.items.append(.close(code: code, reason: reason))
            return Self.claimDrain(&state)
        }
        wake?()
    }

    /// Marks the queue closed, drops what it holds and forgets its hook (which holds the connection).
    func shutdown() {
        state.withLock { state in
            state.isClosed = true
            state.items.removeAll()
            state.bytes = 0
            state.onWork = nil
        }
    }

    /// Takes everything queued; when there is nothing, the queue becomes idle (the next push wakes it).
    /// The items move out without a copy, so each frame's buffer stays uniquely owned.
    func take() -> Deque<Item> {
        state.withLock { state in
            guard !state.items.isEmpty else {
                state.draining = false
                return []
            }
            var items = Deque<Item>()
            swap(&items, &state.items)
            state.bytes = 0
            return items
        }
    }

    private static func claimDrain(_ state: inout State) -> (@Sendable () -> Void)? {
        guard !state.draining, let onWork = state.onWork else { return nil }
        state.draining = true
        return onWork
    }
}
