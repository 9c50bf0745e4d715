import Foundation
import RTMCluster
import RTMCore
import Yams

/// Reads the configuration file (JSON or YAML; JSON is YAML) and applies `RTM_*` overrides.
package enum ConfigurationLoader {
    /// Loads `file` (if any) into `base`, then applies the environment. Flags are applied by the caller last.
    package static func load(file: String?, environment: [String: String], into base: ServerConfiguration = .init())
        throws -> ServerConfiguration
    {
        var configuration = base
        if let file {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw ConfigurationError(key: "--config", problem: "cannot read \(file): \(error.localizedDescription)")
            }
            try apply(fileText: text, to: &configuration)
        }
        try applyEnvironment(environment, to: &configuration)
        try validate(configuration)
        return configuration
    }

    static func apply(fileText: String, to configuration: inout ServerConfiguration) throws {
        let document: Any?
        do { document = try Yams.compose(yaml: fileText).map(plain) } catch {
            throw ConfigurationError(key: "config file", problem: "not valid JSON or YAML (\(error))")
        }
        guard let root = document as? [String: Any] else {
            if document == nil { return }
            throw ConfigurationError(key: "config file", problem: "the top level must be a mapping")
        }
        let known: Set<String> = ["host", "port", "data_dir", "database_url", "node_id", "node_lease_seconds", "node_lease_renewal_seconds",
                                  "apps", "customers", "ack_timeout_seconds",
                                  "offline_retention_days", "idle_timeout_seconds", "header_read_timeout_seconds",
                                  "max_connections", "max_connections_per_address", "trusted_proxies", "websocket"]
        if let unknown = root.keys.sorted().first(where: { !known.contains($0) }) {
            throw ConfigurationError(key: unknown, problem: "unknown key")
        }
        if let value = root["host"] { configuration.host = try string(value, key: "host") }
        if let value = root["port"] { configuration.port = try int(value, key: "port") }
        if let value = root["data_dir"] { configuration.dataDirectory = try string(value, key: "data_dir") }
        if let value = root["database_url"] { configuration.databaseURL = try string(value, key: "database_url") }
        if let value = root["node_id"] { configuration.nodeID = try string(value, key: "node_id") }
        if let value = root["node_lease_seconds"] { configuration.nodeLeaseDuration = .seconds(try int(value, key: "node_lease_seconds")) }
        if let value = root["node_lease_renewal_seconds"] {
            configuration.nodeLeaseRenewal = .seconds(try int(value, key: "node_lease_renewal_seconds"))
        }
        if let value = root["ack_timeout_seconds"] { configuration.ackTimeout = .seconds(try int(value, key: "ack_timeout_seconds")) }
        if let value = root["offline_retention_days"] {
            configuration.offlineRetention = .seconds(try int(value, key: "offline_retention_days") * 86_400)
        }
        if let value = root["idle_timeout_seconds"] {
            configuration.idleTimeout = .seconds(try int(value, key: "idle_timeout_seconds"))
        }
        if let value = root["header_read_timeout_seconds"] {
            configuration.headerReadTimeout = .seconds(try int(value, key: "header_read_timeout_seconds"))
        }
        if let value = root["max_connections"] {
            configuration.maximumConnections = try int(value, key: "max_connections")
        }
        if let value = root["max_connections_per_address"] {
            configuration.maximumConnectionsPerAddress = try int(value, key: "max_connections_per_address")
        }
        if let value = root["trusted_proxies"] {
            guard let list = value as? [Any] else { throw ConfigurationError(key: "trusted_proxies", problem: "must be a list") }
            configuration.trustedProxies = try list.map { try string($0, key: "trusted_proxies") }
        }
        if let value = root["websocket"] { try applyWebSocket(value, to: &configuration.gateway) }
        if let value = root["apps"] {
            guard let list = value as? [[String: Any]] else { throw ConfigurationError(key: "apps", problem: "must be a list of mappings") }
            configuration.apps = try list.enumerated().map { index, entry in
                let key = "apps[\(index)]"
                guard let id = entry["app_id"] else { throw ConfigurationError(key: "\(key).app_id", problem: "is required") }
                return ServerConfiguration.App(
                    appID: try string(id, key: "\(key).app_id"),
                    appCertificate: try entry["app_certificate"].map { try string($0, key: "\(key).app_certificate") },
                    messagingRateLimit: try entry["messaging_rate_limit"].map { try int($0, key: "\(key).messaging_rate_limit") },
                    historyRetentionDays: try entry["history_retention_days"].map { try int($0, key: "\(key).history_retention_days") },
                    restTokenScope: try entry["rest_token_scope"].map { try tokenScope($0, key: "\(key).rest_token_scope") } ?? .app)
            }
        }
        if let value = root["customers"] {
            guard let list = value as? [[String: Any]] else { throw ConfigurationError(key: "customers", problem: "must be a list of mappings") }
            configuration.customers = try list.enumerated().map { index, entry in
                let key = "customers[\(index)]"
                guard let id = entry["id"], let secret = entry["secret"] else {
                    throw ConfigurationError(key: key, problem: "id and secret are required")
                }
                var apps = ["*"]
                if let value = entry["apps"] {
                    guard let list = value as? [Any] else { throw ConfigurationError(key: "\(key).apps", problem: "must be a list") }
                    apps = try list.map { try string($0, key: "\(key).apps") }
                }
                return ServerConfiguration.Customer(id: try string(id, key: "\(key).id"), secret: try string(secret, key: "\(key).secret"), apps: apps)
            }
        }
    }

    static func applyEnvironment(_ environment: [String: String], to configuration: inout ServerConfiguration) throws {
        if let value = environment["RTM_HOST"] { configuration.host = value }
        if let value = environment["RTM_PORT"] {
            guard let port = Int(value) else { throw ConfigurationError(key: "RTM_PORT", problem: "must be an integer") }
            configuration.port = port
        }
        if let value = environment["RTM_DATA_DIR"] { configuration.dataDirectory = value }
        if let value = environment["RTM_DATABASE_URL"] { configuration.databaseURL = value }
        if let value = environment["RTM_NODE_ID"] { configuration.nodeID = value }
        if let value = environment["RTM_REST_FAST_PATH"] {
            guard value == "0" || value == "1" else { throw ConfigurationError(key: "RTM_REST_FAST_PATH", problem: "must be 0 or 1") }
            configuration.restFastPath = value == "1"
        }
    }

    /// Checks every value; throws naming the first bad key.
    package static func validate(_ configuration: ServerConfiguration) throws {
        guard (0...65535).contains(configuration.port) else { throw ConfigurationError(key: "port", problem: "must be 0-65535") }
        guard !configuration.host.isEmpty else { throw ConfigurationError(key: "host", problem: "must not be empty") }
        guard configuration.idleTimeout > .zero else {
            throw ConfigurationError(key: "idle_timeout_seconds", problem: "must be at least 1")
        }
        guard configuration.headerReadTimeout > .zero else {
            throw ConfigurationError(key: "header_read_timeout_seconds", problem: "must be at least 1")
        }
        if let bound = configuration.maximumConnections, bound < 1 {
            throw ConfigurationError(key: "max_connections", problem: "must be at least 1")
        }
        if let bound = configuration.maximumConnectionsPerAddress, bound < 1 {
            throw ConfigurationError(key: "max_connections_per_address", problem: "must be at least 1")
        }
        for (index, proxy) in configuration.trustedProxies.enumerated() where AddressRange(proxy) == nil {
            throw ConfigurationError(key: "trusted_proxies[\(index)]", problem: "must be an IP address or a CIDR range (10.0.0.0/8)")
        }
        if let nodeID = configuration.nodeID {
            guard NodeName.isValid(nodeID) else {
                throw ConfigurationError(key: "node_id", problem: "must be 1-64 of A-Z a-z 0-9 . _ - (unique among the cluster's nodes)")
            }
            guard configuration.nodeLeaseRenewal >= .seconds(1) else {
                throw ConfigurationError(key: "node_lease_renewal_seconds", problem: "must be at least 1")
            }
            guard configuration.nodeLeaseDuration >= configuration.nodeLeaseRenewal * 2 else {
                throw ConfigurationError(key: "node_lease_seconds", problem: "must be at least twice node_lease_renewal_seconds")
            }
        }
        if let url = configuration.databaseURL {
            guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), URLComponents(string: url)?.host?.isEmpty == false else {
                throw ConfigurationError(key: "database_url", problem: "must be postgres://user:password@host:port/database (omit it for SQLite)")
            }
        }
        for (index, app) in configuration.apps.enumerated() {
            guard AppID.isHex32(app.appID) else { throw ConfigurationError(key: "apps[\(index)].app_id", problem: "must be 32 hexadecimal characters") }
            if let certificate = app.appCertificate, certificate.utf8.count != 32 {
                throw ConfigurationError(key: "apps[\(index)].app_certificate", problem: "must be 32 characters")
            }
            if let limit = app.messagingRateLimit, limit < 1 {
                throw ConfigurationError(key: "apps[\(index)].messaging_rate_limit", problem: "must be at least 1")
            }
            if let days = app.historyRetentionDays, days < 1 {
                throw ConfigurationError(key: "apps[\(index)].history_retention_days", problem: "must be at least 1")
            }
        }
        for (index, customer) in configuration.customers.enumerated() {
            guard !customer.id.isEmpty, !customer.id.contains(":"), customer.id.utf8.count <= 128 else {
                throw ConfigurationError(key: "customers[\(index)].id", problem: "must be 1-128 characters without ':'")
            }
            guard customer.secret.utf8.count >= 8 else {
                throw ConfigurationError(key: "customers[\(index)].secret", problem: "must be at least 8 characters")
            }
        }
    }

    /// Scalars stay strings (so an app id like `12e4…` is never read as a number).
    private static func plain(_ node: Node) -> Any {
        switch node {
        case .scalar(let scalar): return scalar.string
        case .sequence(let sequence): return sequence.map(plain)
        case .mapping(let mapping):
            var result: [String: Any] = [:]
            for (key, value) in mapping { result[key.string ?? ""] = plain(value) }
            return result
        case .alias: return ""
        }
    }

    private static func string(_ value: Any, key: String) throws -> String {
        if let text = value as? String { return text }
        if let number = value as? Int { return String(number) }
        throw ConfigurationError(key: key, problem: "must be a string")
    }

    private static func tokenScope(_ value: Any, key: String) throws -> RESTTokenScope {
        guard let text = value as? String, let scope = RESTTokenScope(rawValue: text) else {
            throw ConfigurationError(key: key, problem: "must be app or user")
        }
        return scope
    }

    static func int(_ value: Any, key: String) throws -> Int {
        if let number = value as? Int { return number }
        if let text = value as? String, let number = Int(text) { return number }
        throw ConfigurationError(key: key, problem: "must be an integer")
    }
}
