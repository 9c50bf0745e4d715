/// An application (Agora "project") the server serves.
package struct AppRecord: Sendable, Equatable {
    package var appID: AppID
    /// The 32-character App Certificate; `nil` for an app that logs in without tokens.
    package var certificate: String?
    /// REST peer + channel calls per second for this app; `nil` uses the server default.
    package var messagingRateLimit: Int?
    /// Days history is kept; `nil` uses the server default.
    package var historyRetentionDays: Int?
    /// What an end user's RTM token reaches on the REST API (``RESTTokenScope/app`` unless set).
    package var restTokenScope: RESTTokenScope

    package init(appID: AppID, certificate: String?, messagingRateLimit: Int? = nil, historyRetentionDays: Int? = nil,
                restTokenScope: RESTTokenScope = .app) {
        self.appID = appID
        self.certificate = certificate
        self.messagingRateLimit = messagingRateLimit
        self.historyRetentionDays = historyRetentionDays
        self.restTokenScope = restTokenScope
    }
}

/// A customer id and the hash of its secret, for HTTP Basic auth on the REST API.
package struct CustomerCredential: Sendable, Equatable {
    package var customerID: String
    /// Lower-case hex SHA-256 of the secret; the secret itself is never stored.
    package var secretHash: String
    /// App ids this credential may act for; `["*"]` means every app.
    package var apps: [String]

    package init(customerID: String, secretHash: String, apps: [String]) {
        self.customerID = customerID
        self.secretHash = secretHash
        self.apps = apps
    }

    /// Whether the credential is enabled for `app`.
    package func allows(_ app: AppID) -> Bool {
        apps.contains("*") || apps.contains(app.rawValue)
    }
}

/// Where apps and customer credentials live.
package protocol AppRegistry: Sendable {
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
package actor InMemoryAppRegistry: AppRegistry {
    private var apps: [AppID: AppRecord] = [:]
    private var credentials: [String: CustomerCredential] = [:]

    package init() {}

    package func app(_ id: AppID) -> AppRecord? { apps[id] }
    package func allApps() -> [AppRecord] { apps.values.sorted { $0.appID.rawValue < $1.appID.rawValue } }
    package func upsertApp(_ app: AppRecord) { apps[app.appID] = app }
    package func credential(customerID: String) -> CustomerCredential? { credentials[customerID] }
    package func allCredentials() -> [CustomerCredential] { credentials.values.sorted { $0.customerID < $1.customerID } }
    package func upsertCredential(_ credential: CustomerCredential) { credentials[credential.customerID] = credential }
}
