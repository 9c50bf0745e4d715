import DequeModule
import NIOCore
import Synchronization

/// The bounded queue between everything that sends to one client and the task that writes to its
/// socket. Pushing never blocks; past `maximumFrames` or `maximumBytes` the queue overflows and
/// refuses everything after (the connection is then closed as a slow consumer).
///
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
        var waiter: CheckedContinuation<[Item]?, Never>?
    }

    let maximumFrames: Int
    let maximumBytes: Int
    private let state = Mutex(State())

    init(maximumFrames: Int, maximumBytes: Int) {
        self.maximumFrames = maximumFrames
        self.maximumBytes = maximumBytes
    }

    /// Queues a complete frame.
    func pushFrame(_ frame: ByteBuffer) -> PushResult {
        let (result, wake) = state.withLock { state -> (PushResult, (CheckedContinuation<[Item]?, Never>, [Item])?) in
            guard !state.isClosed else { return (.closed, nil) }
            if state.items.count + 1 > maximumFrames || state.bytes + frame.readableBytes > maximumBytes {
                state.isClosed = true
                state.items.removeAll()
                return (.overflowed, nil)
            }
            state.items.append(.frame(frame))
            state.bytes += frame.readableBytes
            return (.queued, takeAll(&state))
        }
        if let wake { wake.0.resume(returning: wake.1) }
        return result
    }

    /// Queues a close after everything already queued, then refuses further pushes.
    func pushClose(code: UInt16, reason: String) {
        let waiter = state.withLock { state -> (CheckedContinuation<[Item]?, Never>, [Item])? in
            guard !state.isClosed else { return nil }
            state.isClosed = true
            state.items.append(.close(code: code, reason: reason))
            return takeAll(&state)
        }
        if let waiter { waiter.0.resume(returning: waiter.1) }
    }

    /// Marks the queue closed and wakes the writer with nothing.
    func shutdown() {
        let waiter = state.withLock { state -> CheckedContinuation<[Item]?, Never>? in
            state.isClosed = true
            state.items.removeAll()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    private func takeAll(_ state: inout State) -> (CheckedContinuation<[Item]?, Never>, [Item])? {
        guard let waiter = state.waiter else { return nil }
        state.waiter = nil
        let items = Array(state.items)
        state.items.removeAll(keepingCapacity: true)
        state.bytes = 0
        return (waiter, items)
    }

    /// Waits for queued items and takes them all; `nil` once the queue is closed and empty.
    func next() async -> [Item]? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> [Item]?? in
                if !state.items.isEmpty {
                    let items = Array(state.items)
                    state.items.removeAll(keepingCapacity: true)
                    state.bytes = 0
                    return .some(items)
                }
                if state.isClosed { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
