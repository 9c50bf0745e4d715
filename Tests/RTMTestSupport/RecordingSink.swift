import NIOCore
import RTMCore
import Synchronization

/// A session's sink that keeps what the router hands it: the events' bodies and the terminations.
package final class RecordingSink: SessionSink {
    package let received = Mutex<[ByteBuffer]>([])
    package let terminations = Mutex<[SessionTermination]>([])
    /// Runs after a termination is recorded (a test's stand-in for what the gateway does then).
    package let whenTerminated = Mutex<(@Sendable (SessionTermination) -> Void)?>(nil)

    package init() {}

    package func enqueueEvent(_ body: ByteBuffer, kind: EventKind) -> Bool {
        received.withLock { $0.append(body) }
        return true
    }

    package func terminate(_ reason: SessionTermination) {
        terminations.withLock { $0.append(reason) }
        whenTerminated.withLock { $0 }?(reason)
    }

    /// The received bodies as strings, in order.
    package var texts: [String] { received.withLock { $0.map { String(buffer: $0) } } }
}
