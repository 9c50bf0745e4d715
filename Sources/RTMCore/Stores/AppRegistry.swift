/// An application (Agora "project") the server serves.
public struct AppRecord: Sendable, Equatable {
    public var appID: AppID
    /// The 32-character App Certificate; `nil` for an app that logs in without tokens.
    public var certificate: String?
    /// REST peer + channel calls per second for this app; `nil` uses the server default.
    public var messagingRateLimit: Int?
    /// Days history is kept; `nil` uses the server default.
    public var historyRetentionDays: Int?
    /// What an end user's RTM token reaches on the REST API (``RESTTokenScope/app`` unless set).
    public var restTokenScope: RESTTokenScope

    public init(appID: AppID, certificate: String?, messagingRateLimit: Int? = nil, historyRetentionDays: Int? = nil,
                restTokenScope: RESTTokenScope = .app) {
        self.appID = appID
        self.certificate = certificate
        self.messagingRateLimit = messagingRateLimit
        self.historyRetentionDays = historyRetentionDays
        self.restTokenScope = restTokenScope
    }
}

/// A customer id and the hash of its secret, for HTTP Basic auth on the REST API.
public struct CustomerCredential: Sendable, Equatable {
    public var customerID: String
    /// Lower-case hex SHA-256 of the secret; the secret itself is never stored.
    public var secretHash: String
    /// App ids this credential may act for; `["*"]` means every app.
    public var apps: [String]

    public init(customerID: String, secretHash: String, apps: [String]) {
        self.customerID = customerID
        self.secretHash = secretHash
        self.apps = apps
    }

    /// Whether the credential is enabled for `app`.
    public func allows(_ app: AppID) -> Bool {
        apps.contains("*") || apps.contains(app.rawValue)
    }
}

/// Where apps and customer credentials live.
public protocol AppRegistry: Sendable {
    func app(_ id: AppID) async throws -> AppRecord?
    func allApps() async throws -> [AppRecord]
    /// Inserts or replaces the app with the same id.
    func upsertApp(_ app: AppRecord) async throws
    func credential(customerID: String) async throws -> CustomerCredential?
    func allCredentials() async throws -> [CustomerCredential]
    /// Inserts or replaces the credential with the same customer id.
    func upsertCredential(_ credential: CustomerCredential) async throws
}

/// An ``AppRegistry`` in memory, for tests and for configuration-only deployments.
public actor InMemoryAppRegistry: AppRegistry {
    private var apps: [AppID: AppRecord] = [:]
    private var credentials: [String: CustomerCredential] = [:]

    public init() {}

    public func app(_ id: AppID) -> AppRecord? { apps[id] }
    public func allApps() -> [AppRecord] { apps.values.sorted { $0.appID.rawValue < $1.appID.rawValue } }
    public func upsertApp(_ app: AppRecord) { apps[app.appID] = app }
    public func credential(customerID: String) -> CustomerCredential? { credentials[customerID] }
    public func allCredentials() -> [CustomerCredential] { credentials.values.sorted { $0.customerID < $1.customerID } }
    public func upsertCredential(_ credential: CustomerCredential) { credentials[credential.customerID] = credential }
}
