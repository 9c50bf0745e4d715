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
///
/// Answers to the client's pings are held here too, so they count against the same bound and wait
/// for the socket to be writable like everything else: at most one pong is held, the answer to the
/// latest ping (RFC 6455 §5.5.3 lets an endpoint answer only the most recent ping).
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

    /// What one drain pass writes: the pending pong (if any) first, then the queued items.
    struct Batch {
        var pong: ByteBuffer?
        var items: Deque<Item>
        var isEmpty: Bool { pong == nil && items.isEmpty }
    }

    private struct State {
        var items = Deque<Item>()
        /// The answer to the client's latest ping, not yet written (counted in `bytes` and as a frame).
        var pong: ByteBuffer?
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
            guard !state.items.isEmpty || state.pong != nil, !state.draining else { return false }
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
            guard Self.fits(frames: state.items.count + 1 + (state.pong == nil ? 0 : 1), bytes: state.bytes + size,
                            maximumFrames: maximumFrames, maximumBytes: maximumBytes) else {
                Self.overflow(&state)
                return (.overflowed, nil)
            }
            state.items.append(item.take()!)
            state.bytes += size
            return (.queued, Self.claimDrain(&state))
        }
        wake?()
        return result
    }

    /// Holds the answer to the client's latest ping (replacing an older one not yet written). It
    /// counts against the bound like a frame: a client that pings and never reads overflows the
    /// queue rather than growing what waits for its socket.
    func pushPong(_ data: ByteBuffer) -> PushResult {
        let (result, wake) = state.withLock { state -> (PushResult, (@Sendable () -> Void)?) in
            guard !state.isClosed else { return (.closed, nil) }
            let bytes = state.bytes - (state.pong?.readableBytes ?? 0) + data.readableBytes
            guard Self.fits(frames: state.items.count + 1, bytes: bytes, maximumFrames: maximumFrames, maximumBytes: maximumBytes) else {
                Self.overflow(&state)
                return (.overflowed, nil)
            }
            state.pong = data
            state.bytes = bytes
            return (.queued, Self.claimDrain(&state))
        }
        wake?()
        return result
    }

    /// Bytes held (queued frames and the pending pong). For tests and diagnosis.
    var heldBytes: Int { state.withLock { $0.bytes } }

    private static func fits(frames: Int, bytes: Int, maximumFrames: Int, maximumBytes: Int) -> Bool {
        frames <= maximumFrames && bytes <= maximumBytes
    }

    private static func overflow(_ state: inout State) {
        state.isClosed = true
        state.items.removeAll()
        state.pong = nil
        state.bytes = 0
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
            state.pong = nil
            state.bytes = 0
            state.onWork = nil
        }
    }

    /// Takes everything queued; when there is nothing, the queue becomes idle (the next push wakes it).
    /// The items move out without a copy, so each frame's buffer stays uniquely owned.
    func take() -> Batch {
        state.withLock { state in
            guard !state.items.isEmpty || state.pong != nil else {
                state.draining = false
                return Batch(pong: nil, items: [])
            }
            var batch = Batch(pong: state.pong.take(), items: [])
            swap(&batch.items, &state.items)
            state.bytes = 0
            return batch
        }
    }

    private static func claimDrain(_ state: inout State) -> (@Sendable () -> Void)? {
        guard !state.draining, let onWork = state.onWork else { return nil }
        state.draining = true
        return onWork
    }
}
