import ArgumentParser
import Foundation
import Logging
import RTMServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the server.")

    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default 8080; 0 picks a free one).") var port: Int?
    @Option(name: .customLong("data-dir"), help: "Data directory (default ./rtm-data).") var dataDir: String?
    @Option(help: "Configuration file, JSON or YAML.") var config: String?
    @Option(name: .customLong("database-url"), help: "postgres://… to use PostgreSQL (default: SQLite in the data dir).") var databaseURL: String?
    @Option(name: .customLong("node-id"), help: "This node's name, on every log line; with --database-url postgres://… it turns on cluster mode (unique among the nodes).") var nodeID: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (default info).") var logLevel: String = "info"

    func run() async throws {
        var configuration: ServerConfiguration
        do {
            configuration = try ConfigurationLoader.load(file: config, environment: ProcessInfo.processInfo.environment)
            if let host { configuration.host = host }
            if let port { configuration.port = port }
            if let dataDir { configuration.dataDirectory = dataDir }
            if let databaseURL { configuration.databaseURL = databaseURL }
            if let nodeID { configuration.nodeID = nodeID }
            try ConfigurationLoader.validate(configuration)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("rtm: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if let config { Self.warnIfReadableByOthers(config, holdsSecrets: configuration.holdsSecrets) }
        var logger = Logger(label: "rtm")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        if let node = configuration.nodeID { logger[metadataKey: "node"] = "\(node)" }
        let descriptorLimit = FileDescriptorLimit.raiseSoftLimitToHard()
        let application: RTMApplication
        do {
            application = try await RTMApplication.build(configuration: configuration, logger: logger)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("rtm: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let bootstrap = application.bootstrap
        logger.info("at most \(application.connectionBudget) connections open at once (file descriptor limit \(descriptorLimit); max_connections)")
        let apps = try await application.stores.apps.allApps()
        try await application.run { host, port in
            Self.announce(host: host, port: port, bootstrap: bootstrap, appIDs: apps.map(\.appID.rawValue))
        }
    }

    /// Warns on standard error when a config file that holds certificates or secrets can be read by
    /// other local users (the server still starts: the file is the operator's).
    static func warnIfReadableByOthers(_ path: String, holdsSecrets: Bool) {
        guard holdsSecrets, let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int,
              mode & 0o077 != 0 else { return }
        FileHandle.standardError.write(Data(
            "rtm: warning: \(path) holds app certificates or customer secrets and other users may read it (mode \(String(mode, radix: 8))); run: chmod 600 \(path)\n".utf8))
    }

    /// Prints the first-run credentials once (with a ready-to-paste curl line), or the app ids.
    static func announce(host: String, port: Int, bootstrap: BootstrapCredentials?, appIDs: [String]) {
        var lines: [String] = []
        if let created = bootstrap {
            let basic = Data("\(created.customerID):\(created.customerSecret)".utf8).base64EncodedString()
            lines += [
                "First run: created an app and a REST credential. They are shown only now; keep them.",
                "  App ID:          \(created.appID)",
                "  App Certificate: \(created.appCertificate)",
                "  Customer ID:     \(created.customerID)",
                "  Customer Secret: \(created.customerSecret)",
                "Receive:  RTM_APP_CERTIFICATE=\(created.appCertificate) swift run rtm listen --url ws://\(host):\(port)/v1/ws --app-id \(created.appID) --user-id userB",
                "Send:     curl -s -X POST 'http://\(host):\(port)/dev/v2/project/\(created.appID)/rtm/users/userA/peer_messages?wait_for_ack=true' -H 'Authorization: Basic \(basic)' -H 'Content-Type: application/json' -d '{\"destination\":\"userB\",\"payload\":\"Hello\"}'",
            ]
        } else {
            lines += appIDs.map { "App ID: \($0)" }
        }
        lines.append("listening on http://\(host):\(port)")
        printLine(lines.joined(separator: "\n"))
    }
}
