import NIOCore
import RTMCore
import Synchronization

/// A session's sink that keeps what the router hands it: the events' bodies and the terminations.
package final class RecordingSink: SessionSink {
    package let received = Mutex<[ByteBuffer]>([])
    package let terminations = Mutex<[SessionTermination]>([])

    package init() {}

    package func enqueueEvent(_ body: ByteBuffer, kind: EventKind) -> Bool {
        received.withLock { $0.append(body) }
        return true
    }

    package func terminate(_ reason: SessionTermination) { terminations.withLock { $0.append(reason) } }

    /// The received bodies as strings, in order.
    package var texts: [String] { received.withLock { $0.map { String(buffer: $0) } } }
}
