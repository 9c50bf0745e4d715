import DequeModule
import NIOCore
import RTMCore

/// Events a session keeps for a resume, in `seq` order, with the bytes they hold counted so the
/// buffer can be bounded in bytes as well as in events.
struct ReplayBuffer {
    struct Event {
        var seq: Int64
        var body: ByteBuffer
        var messageID: String = ""
        var timestamp: Int64 = 0
        /// For a peer message sent with offline messaging: what the offline store keeps if the session
        /// gives the message up before it is acknowledged.
        var offlineCopy: StoredPeerMessage?

        /// Bytes the event holds: its body, and the offline copy's content.
        var size: Int { body.readableBytes + (offlineCopy.map { Self.size(of: $0.content) } ?? 0) }

        private static func size(of content: MessageContent) -> Int {
            switch content {
            case .text(let text): text.utf8.count
            case .raw(let base64, let description): base64.utf8.count + (description?.utf8.count ?? 0)
            }
        }
    }

    /// A bound in events and in bytes.
    struct Limit {
        var events: Int
        var bytes: Int
    }

    private(set) var events = Deque<Event>()
    private(set) var bytes = 0

    var isEmpty: Bool { events.isEmpty }

    /// Appends `event`; returns whether the buffer is still within `limit`.
    mutating func append(_ event: Event, within limit: Limit) -> Bool {
        events.append(event)
        bytes += event.size
        return events.count <= limit.events && bytes <= limit.bytes
    }

    /// Appends `event`, dropping the oldest events past `limit` (never `event` itself); returns how
    /// many were dropped because of the byte bound (dropping past the event bound is the ring's
    /// ordinary turn-over).
    mutating func appendDroppingOldest(_ event: Event, within limit: Limit) -> Int {
        events.append(event)
        bytes += event.size
        while events.count > limit.events { removeFirst() }
        var droppedForBytes = 0
        while bytes > limit.bytes, events.count > 1 {
            removeFirst()
            droppedForBytes += 1
        }
        return droppedForBytes
    }

    /// Removes the events that match.
    mutating func removeAll(where matches: (Event) -> Bool) {
        events.removeAll(where: matches)
        bytes = events.reduce(0) { $0 + $1.size }
    }

    /// Removes the peer message `messageID` (acknowledged).
    mutating func remove(messageID: String) {
        guard let index = events.firstIndex(where: { $0.messageID == messageID }) else { return }
        bytes -= events.remove(at: index).size
    }

    /// Empties the buffer and returns what it held.
    mutating func takeAll() -> Deque<Event> {
        bytes = 0
        var taken = Deque<Event>()
        swap(&taken, &events)
        return taken
    }

    private mutating func removeFirst() {
        bytes -= events.removeFirst().size
    }
}
