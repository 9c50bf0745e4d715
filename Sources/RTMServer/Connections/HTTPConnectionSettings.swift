import Metrics
import NIOCore
import RTMCore

/// What every HTTP connection is held to: its deadlines, the bound per client address and who may
/// name the client (from ``ServerConfiguration``).
struct HTTPConnectionSettings: Sendable {
    /// Milliseconds.
    var idleTimeout: Int64
    /// Milliseconds.
    var headerReadTimeout: Int64
    /// What the deadlines are read on and scheduled with (a ``ManualClock`` in unit tests).
    var clock: any RTMClock
    /// `nil` when connections per address are not bounded.
    var perAddress: ConnectionsPerAddress?
    var addresses: ClientAddressResolver

    init(configuration: ServerConfiguration, clock: any RTMClock) {
        idleTimeout = configuration.idleTimeout.milliseconds
        headerReadTimeout = configuration.headerReadTimeout.milliseconds
        self.clock = clock
        perAddress = configuration.maximumConnectionsPerAddress.map(ConnectionsPerAddress.init)
        addresses = ClientAddressResolver(trustedProxies: configuration.trustedProxies)
    }
}

/// Why the server ended an HTTP connection itself: `rtm_http_connections_closed_total{reason}`.
enum HTTPConnectionClosure: String, Sendable {
    /// No request within `idle_timeout_seconds` on a kept-alive connection, or a body that stalled as long.
    case idleTimeout = "idle_timeout"
    /// A request head (a new connection's first request included) not complete within `header_read_timeout_seconds`.
    case headerTimeout = "header_timeout"
    /// A request NIO's parser refused: answered 400.
    case badRequest = "bad_request"
    /// Headers over the parser's limit: answered 431.
    case headersTooLarge = "headers_too_large"
    /// A request line over the parser's limit: answered 414.
    case uriTooLong = "uri_too_long"
    /// The client address already holds `max_connections_per_address` connections.
    case perAddressLimit = "per_address_limit"

    /// Counts one closure for this reason.
    func count() {
        Counter(label: "rtm_http_connections_closed_total", dimensions: [("reason", rawValue)]).increment()
    }
}
