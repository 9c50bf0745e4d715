import NIOCore
import RTMCore
import Synchronization

/// An event encoder that writes each event as its Swift description (so tests can read what a
/// session got) and counts how many it encoded.
package final class CountingEncoder: EventEncoder {
    package let count = Atomic<Int>(0)

    package init() {}

    package func encodeBody(_ event: OutboundEvent) -> ByteBuffer {
        count.add(1, ordering: .relaxed)
        return ByteBuffer(string: "\(event)}")
    }
}
