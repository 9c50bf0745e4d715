import DequeModule
import NIOCore

/// A socket's inbox as a value: the requests its handler delivered, waiting to be handled in order,
/// with the bounds that pause reading and the flags that decide when the handling task runs and when
/// the connection may finish. ``GatewayConnection`` keeps it under its lock and does the I/O the
/// answers call for (starting the task, pausing and resuming the socket's reads).
struct Inbox {
    /// What the socket delivered, handled in arrival order.
    enum Item: Equatable {
        case text(ByteBuffer)
        /// A message the gateway does not take (binary) or a framing error: the socket is closed with `code` after the
        /// requests that arrived before it.
        case refuse(code: UInt16, reason: String)

        /// Bytes it holds in the inbox.
        var size: Int {
            switch self {
            case .text(let text): text.readableBytes
            case .refuse: 0
            }
        }
    }

    /// Requests waiting past which the socket stops reading until half of them are handled.
    static let maximumRequests = 64

    /// Bytes of waiting text past which the socket stops reading until half of them are handled
    /// (``GatewayConfiguration/maximumInboxBytes``).
    let maximumBytes: Int
    private(set) var items = Deque<Item>()
    /// Bytes of the text messages in `items`.
    private(set) var bytes = 0
    /// A task is handling the inbox.
    private(set) var isHandling = false
    /// The socket stopped reading because the inbox was full.
    private(set) var isReadingPaused = false
    /// The socket closed while requests were waiting: the connection finishes once they are handled.
    private(set) var finishesWhenIdle = false
    /// A close is queued, or the connection finished: nothing more is taken.
    private(set) var isShut = false

    init(maximumBytes: Int) {
        self.maximumBytes = maximumBytes
    }

    /// What ``add(_:)`` asks of the connection.
    struct Added: Equatable {
        /// Stop reading the socket: the inbox reached a bound.
        var pauseReading = false
        /// Start a task to handle the inbox: none is running.
        var startHandling = false
    }

    /// Takes `item` (on the event loop); ignored once the inbox is shut or the socket closed.
    mutating func add(_ item: Item) -> Added {
        guard !isShut, !finishesWhenIdle else { return Added() }
        items.append(item)
        bytes += item.size
        var added = Added()
        if items.count >= Self.maximumRequests || bytes >= maximumBytes {
            isReadingPaused = true
            added.pauseReading = true
        }
        if !isHandling {
            isHandling = true
            added.startHandling = true
        }
        return added
    }

    /// What the handling task does next.
    enum Next: Equatable {
        /// Handle `item`; resume reading the socket first if `resumeReading`.
        case handle(Item, resumeReading: Bool)
        /// Nothing left: the task ends; the connection finishes now if `finish`.
        case idle(finish: Bool)
    }

    /// The next item for the handling task. Reading resumes once the inbox is below half its bounds.
    mutating func next() -> Next {
        guard !isShut, let item = items.popFirst() else {
            isHandling = false
            return .idle(finish: finishesWhenIdle)
        }
        bytes -= item.size
        let resume = isReadingPaused && items.count < Self.maximumRequests / 2 && bytes < maximumBytes / 2
        if resume { isReadingPaused = false }
        return .handle(item, resumeReading: resume)
    }

    /// The socket closed (on the event loop). Returns whether the connection finishes now; if a task
    /// is handling requests, it finishes once they are done (``next()`` answers `.idle(finish: true)`).
    mutating func socketClosed() -> Bool {
        guard isHandling else { return true }
        finishesWhenIdle = true
        return false
    }

    /// A close is queued or the connection finished: what waits is dropped and nothing more is taken.
    mutating func shut() {
        isShut = true
        items.removeAll()
        bytes = 0
    }
}
