import Foundation
import RTMCore
import RTMGateway

/// Everything `rtm serve` needs, after merging the config file, `RTM_*` variables and flags
/// (`server-contract.md` §2–§3).
public struct ServerConfiguration: Sendable {
    public struct App: Sendable, Equatable {
        public var appID: String
        public var appCertificate: String?
        public var messagingRateLimit: Int?
        public var historyRetentionDays: Int?

        public init(appID: String, appCertificate: String?, messagingRateLimit: Int? = nil, historyRetentionDays: Int? = nil) {
            self.appID = appID
            self.appCertificate = appCertificate
            self.messagingRateLimit = messagingRateLimit
            self.historyRetentionDays = historyRetentionDays
        }
    }

    public struct Customer: Sendable, Equatable {
        public var id: String
        public var secret: String
        public var apps: [String]

        public init(id: String, secret: String, apps: [String] = ["*"]) {
            self.id = id
            self.secret = secret
            self.apps = apps
        }
    }

    public var host = "127.0.0.1"
    public var port = 8080
    public var dataDirectory = "./rtm-data"
    public var databaseURL: String?
    public var nodeID: String?
    public var apps: [App] = []
    public var customers: [Customer] = []
    /// REST `wait_for_ack` and SDK `send_peer` ack timeout.
    public var ackTimeout: Duration = .seconds(10)
    /// Create an app and a credential when the store is empty and none is configured.
    public var bootstrapWhenEmpty = true
    /// How long offline messages are kept.
    public var offlineRetention: Duration = .seconds(7 * 24 * 3600)
    /// Time between retention sweeps.
    public var retentionSweepInterval: Duration = .seconds(60)
    /// How often the server pings each WebSocket; a socket that has not answered a ping by the next
    /// one is closed (`client-protocol.md` §1: every 10 s). Set programmatically.
    public var pingInterval: Duration = .seconds(10)
    /// The WebSocket gateway's limits and timers (login timeout, queue and replay bounds). Its
    /// `peerAckTimeout` and `pingInterval` are taken from ``ackTimeout`` and ``pingInterval``.
    /// Set programmatically.
    public var gateway = GatewayConfiguration()
    /// Answer plain REST sends on the event loop (`RESTFastPath`); `RTM_REST_FAST_PATH=0` turns it
    /// off, for comparison and diagnosis. Answers are the same either way.
    public var restFastPath = true

    public init() {}
}

/// A configuration problem that stops the server at start, naming the key.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var key: String
    public var problem: String
    public var description: String { "invalid configuration: \(key): \(problem)" }

    public init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }
}
