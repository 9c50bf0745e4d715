import Synchronization

/// Open connections per client address, bounded by `max_connections_per_address` (off unless set).
///
/// Shared by every event loop; an address's count goes up when its connection is accepted (or, behind
/// a trusted proxy, when its first request names the client) and down when the connection closes.
final class ConnectionsPerAddress: Sendable {
    let maximum: Int
    private let counts = Mutex<[[UInt8]: Int]>([:])

    init(maximum: Int) {
        self.maximum = maximum
    }

    /// Counts one more connection of `address`; `false` (and nothing counted) when it already has
    /// `maximum`. An address that is not an IP address is not bounded.
    func acquire(_ address: String) -> Bool {
        guard let key = AddressRange.bytes(of: address) else { return true }
        return counts.withLock { counts in
            let open = counts[key, default: 0]
            guard open < maximum else { return false }
            counts[key] = open + 1
            return true
        }
    }

    /// Counts one connection of `address` fewer (after a successful ``acquire(_:)``).
    func release(_ address: String) {
        guard let key = AddressRange.bytes(of: address) else { return }
        counts.withLock { counts in
            let open = counts[key, default: 0]
            counts[key] = open > 1 ? open - 1 : nil
        }
    }

    /// How many connections `address` holds open (for tests and diagnosis).
    func openConnections(of address: String) -> Int {
        guard let key = AddressRange.bytes(of: address) else { return 0 }
        return counts.withLock { $0[key, default: 0] }
    }
}
