import Foundation
import RTMCore
import RTMGateway

/// Everything `rtm serve` needs, after merging the config file, `RTM_*` variables and flags
/// (`server-contract.md` §2–§3).
package struct ServerConfiguration: Sendable {
    package struct App: Sendable, Equatable {
        package var appID: String
        package var appCertificate: String?
        package var messagingRateLimit: Int?
        package var historyRetentionDays: Int?
        /// What an end user's RTM token reaches on the REST API (`rest_token_scope`: `app`, the default, or `user`).
        package var restTokenScope: RESTTokenScope

        package init(appID: String, appCertificate: String?, messagingRateLimit: Int? = nil, historyRetentionDays: Int? = nil,
                    restTokenScope: RESTTokenScope = .app) {
            self.appID = appID
            self.appCertificate = appCertificate
            self.messagingRateLimit = messagingRateLimit
            self.historyRetentionDays = historyRetentionDays
            self.restTokenScope = restTokenScope
        }
    }

    package struct Customer: Sendable, Equatable {
        package var id: String
        package var secret: String
        package var apps: [String]

        package init(id: String, secret: String, apps: [String] = ["*"]) {
            self.id = id
            self.secret = secret
            self.apps = apps
        }
    }

    package var host = "127.0.0.1"
    package var port = 8080
    package var dataDirectory = "./rtm-data"
    package var databaseURL: String?
    /// This node's name (`--node-id`, `node_id`, `RTM_NODE_ID`): every log line carries it as `node`;
    /// in a cluster it names the node among the others and must be unique there. Optional on one node.
    package var nodeID: String?
    /// Cluster mode: how long a node's lease lasts without renewal (`node_lease_seconds`); a killed
    /// node is noticed within this plus one renewal.
    package var nodeLeaseDuration: Duration = .seconds(10)
    /// Cluster mode: between lease renewals and sweeps for lost nodes (`node_lease_renewal_seconds`).
    package var nodeLeaseRenewal: Duration = .seconds(3)
    package var apps: [App] = []
    package var customers: [Customer] = []
    /// REST `wait_for_ack` and SDK `send_peer` ack timeout.
    package var ackTimeout: Duration = .seconds(10)
    /// Create an app and a credential when the store is empty and none is configured.
    package var bootstrapWhenEmpty = true
    /// How long offline messages are kept.
    package var offlineRetention: Duration = .seconds(7 * 24 * 3600)
    /// Time between retention sweeps.
    package var retentionSweepInterval: Duration = .seconds(60)
    /// On shutdown, how long clients' queues get to flush after every session was told (and its
    /// socket closed with 1001) before the listener stops.
    package var shutdownFlushTime: Duration = .milliseconds(300)
    /// How long the whole graceful shutdown may take (see docs/OPERATIONS.md, "Shutdown"); past it
    /// the services still running are cancelled (the event recorder still writes what it holds).
    package var maximumShutdownDuration: Duration = .seconds(30)
    /// How often the server pings each WebSocket; a socket that has not answered a ping by the next
    /// one is closed (`client-protocol.md` §1: every 10 s). Set programmatically.
    package var pingInterval: Duration = .seconds(10)
    /// The WebSocket gateway's limits and timers (login timeout, queue and replay bounds). Its
    /// `peerAckTimeout` and `pingInterval` are taken from ``ackTimeout`` and ``pingInterval``.
    /// The config file's `websocket:` section sets the timers and bounds it names.
    package var gateway = GatewayConfiguration()
    /// Answer plain REST sends on the event loop (`RESTFastPath`); `RTM_REST_FAST_PATH=0` turns it
    /// off, for comparison and diagnosis. Answers are the same either way.
    package var restFastPath = true
    /// HTTP keep-alive connections with no request in progress are closed after this long; so is a
    /// request whose body stops arriving for this long (`idle_timeout_seconds`).
    package var idleTimeout: Duration = .seconds(75)
    /// A request's head (request line and headers; for a new connection, the first request,
    /// the WebSocket upgrade included) must arrive within this long of its first byte (of the
    /// accept, for a new connection), or the connection is closed (`header_read_timeout_seconds`).
    package var headerReadTimeout: Duration = .seconds(10)
    /// At most this many open connections (HTTP and WebSocket) per client address; `nil` (the
    /// default) sets no bound (`max_connections_per_address`).
    package var maximumConnectionsPerAddress: Int?
    /// At most this many open connections (HTTP and WebSocket) at once; more wait in the listen
    /// backlog until one closes. `nil` (the default): the file-descriptor limit less a reserve for
    /// the store and the runtime (`max_connections`; see ``ConnectionBudget``).
    package var maximumConnections: Int?
    /// Peers (addresses or CIDR ranges) whose `X-Forwarded-For` / `X-Real-IP` headers name the
    /// client (`trusted_proxies`); other peers are their own client address.
    package var trustedProxies: [String] = []

    package init() {}

    /// Whether the configuration carries an app certificate or a customer secret in clear.
    package var holdsSecrets: Bool { !customers.isEmpty || apps.contains { $0.appCertificate != nil } }
}

/// A configuration problem that stops the server at start, naming the key.
package struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    package var key: String
    package var problem: String
    package var description: String { "invalid configuration: \(key): \(problem)" }

    package init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }
}
