/// One event on the cluster bus: who published it, its place in that node's sequence, and its body
/// (the event, encoded as text by the cluster; opaque to the bus).
///
/// A node's events reach every node (its own included) in one order: the order in which the
/// transactions that published them committed.
package struct BusEnvelope: Equatable, Sendable {
    /// The publishing node's id.
    package var origin: String
    /// The publishing node's count of events, from 1 in each run of the node: also what keeps two
    /// identical bodies of one transaction apart (PostgreSQL folds identical notifications).
    package var sequence: UInt64
    /// The event. Text without U+0000 (PostgreSQL's notifications and `TEXT` cannot hold it).
    package var body: String

    package init(origin: String, sequence: UInt64, body: String) {
        self.origin = origin
        self.sequence = sequence
        self.body = body
    }
}

/// How an envelope travels in a notification: inline when it fits, else by reference to a row that
/// holds the body. The one place that knows the notification's format and size rule.
///
/// Format: `v1 <origin> <sequence> i <body>` (inline) or `v1 <origin> <sequence> r <row id>`.
package enum BusNotification: Equatable, Sendable {
    case inline(BusEnvelope)
    /// The body is in the bus's body table under `bodyID`.
    case reference(origin: String, sequence: UInt64, bodyID: Int64)

    /// Bytes a notification may carry inline. PostgreSQL refuses payloads of 8,000 bytes or more (a
    /// compile-time constant); the rest is room for the header.
    package static let maximumInlineBytes = 7_000

    /// The notification for `envelope` if it fits inline, else `nil` (store the body, send a reference).
    package static func inlinePayload(_ envelope: BusEnvelope) -> String? {
        let payload = "v1 \(envelope.origin) \(envelope.sequence) i \(envelope.body)"
        return payload.utf8.count <= maximumInlineBytes ? payload : nil
    }

    /// The notification that points at a stored body.
    package static func referencePayload(origin: String, sequence: UInt64, bodyID: Int64) -> String {
        "v1 \(origin) \(sequence) r \(bodyID)"
    }

    /// Reads a notification's payload; `nil` for anything not in the format (another program's
    /// notification on the channel, a later format).
    package static func parse(_ payload: String) -> BusNotification? {
        let parts = payload.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "v1", NodeName.isValid(parts[1]), let sequence = UInt64(parts[2]) else { return nil }
        let origin = String(parts[1])
        switch parts[3] {
        case "i": return .inline(BusEnvelope(origin: origin, sequence: sequence, body: String(parts[4])))
        case "r":
            guard let bodyID = Int64(parts[4]) else { return nil }
            return .reference(origin: origin, sequence: sequence, bodyID: bodyID)
        default: return nil
        }
    }
}

/// The rule for node ids (`--node-id`): 1 to 64 of `A-Z a-z 0-9 . _ -`, so a node id is safe in a
/// notification's header, a log line and a metric label.
package enum NodeName {
    package static func isValid<Text: StringProtocol>(_ text: Text) -> Bool {
        let bytes = text.utf8
        return (1...64).contains(bytes.count) && bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"): true
            default: false
            }
        }
    }
}
