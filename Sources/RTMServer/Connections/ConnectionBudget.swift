import HummingbirdCore
import Logging
import Metrics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many connections (HTTP and WebSocket) the server holds at once, so that accepting them never
/// uses up the process's file descriptors (`max_connections`).
///
/// Running out of descriptors is not something the server can answer and go on from: on Linux,
/// libdispatch (which runs Swift's tasks) opens `/proc/<tid>/stat` once a second while tasks wait
/// for a thread, and traps (SIGILL) when that `open` fails. So the server stops accepting before
/// the limit: past the budget, new connections wait in the kernel's listen backlog (256) until one
/// closes, and the descriptors left over stay free for the store, the event loops and libdispatch.
/// The accept gate is Hummingbird's (`AvailableConnectionsDelegate`); this type decides and counts.
struct ConnectionBudget: AvailableConnectionsDelegate {
    let maximum: Int
    private let logger: Logger
    private var open = 0
    /// Set when the budget fills; cleared once the open count falls below 90 % of it, so a server
    /// that hovers at the budget logs once, not once per connection.
    private var warned = false
    private let openGauge = Gauge(label: "rtm_connections_open")
    private let filled = Counter(label: "rtm_connection_budget_reached_total")

    init(maximum: Int, logger: Logger) {
        self.maximum = maximum
        self.logger = logger
        Gauge(label: "rtm_connection_budget").record(maximum)
    }

    mutating func connectionOpened() {
        open += 1
        openGauge.record(open)
        if open >= maximum && !warned {
            warned = true
            filled.increment()
            logger.warning("connection budget reached: \(maximum) connections are open; new ones wait in the listen backlog until one closes (max_connections)")
        }
    }

    mutating func connectionClosed() {
        open -= 1
        openGauge.record(open)
        if warned && open * 10 < maximum * 9 { warned = false }
    }

    func isAcceptingNewConnections() -> Bool { open < maximum }
}

/// The process's file-descriptor limit and the connection budget that follows from it.
package enum FileDescriptorLimit {
    /// Descriptors kept for everything but connections: the store (SQLite's database, WAL and
    /// shared-memory files per pooled connection, or PostgreSQL connections), the event loops'
    /// epoll and wake-up descriptors, libdispatch's, standard streams: at most 256, and half of a
    /// limit below 512.
    static func reserve(forLimit limit: Int) -> Int { min(256, limit / 2) }

    /// The default `max_connections`: the soft limit less ``reserve(forLimit:)``, at least 1.
    package static func defaultConnectionBudget() -> Int {
        let limit = current().soft
        return max(1, limit - reserve(forLimit: limit))
    }

    /// The soft and hard `RLIMIT_NOFILE` of this process.
    package static func current() -> (soft: Int, hard: Int) {
        var limits = rlimit()
        guard getrlimit(resourceNoFile, &limits) == 0 else { return (1024, 1024) }
        return (clamped(limits.rlim_cur), clamped(limits.rlim_max))
    }

    /// Raises the soft limit to the hard one (as Go's runtime and nginx's `worker_rlimit_nofile` do):
    /// the soft default of many shells and units (1,024) is far below what a server needs and what
    /// the administrator allows. Returns the soft limit now in force.
    @discardableResult
    package static func raiseSoftLimitToHard() -> Int {
        var limits = rlimit()
        guard getrlimit(resourceNoFile, &limits) == 0 else { return current().soft }
        if limits.rlim_cur < limits.rlim_max {
            var raised = limits
            raised.rlim_cur = limits.rlim_max
            _ = setrlimit(resourceNoFile, &raised)
        }
        return current().soft
    }

    private static func clamped(_ value: rlim_t) -> Int { value > rlim_t(Int32.max) ? Int(Int32.max) : Int(value) }

    #if canImport(Glibc)
    private static let resourceNoFile = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resourceNoFile = RLIMIT_NOFILE
    #endif
}
