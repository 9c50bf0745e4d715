import AgoraToken
import ArgumentParser
import Foundation
import Logging
import RTMCore
import RTMServer

struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Data directory of the server (default ./rtm-data).") var dataDir = "./rtm-data"
    @Option(name: .customLong("database-url"), help: "postgres://… when the server uses PostgreSQL.") var databaseURL: String?

    /// Runs `body` with the server's app registry (SQLite in the data dir, or PostgreSQL), opened as `rtm serve` opens it.
    func withRegistry(_ body: (any AppRegistry) async throws -> Void) async throws {
        let logger = Logger(label: "rtm")
        let services = ServiceRunner(stopsOnSignals: false, maximumShutdownDuration: ServerConfiguration().maximumShutdownDuration, logger: logger)
        do {
            let opened = try await OpenedStore.open(databaseURL: databaseURL ?? ProcessInfo.processInfo.environment["RTM_DATABASE_URL"],
                                                    dataDirectory: dataDir, services: services, logger: logger)
            try await body(opened.stores.apps)
        } catch {
            try? await services.shutdown()
            throw error
        }
        try await services.shutdown()
    }
}

extension RESTTokenScope: ExpressibleByArgument {}

struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "app", abstract: "Create or list apps.",
                                                    subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an app; prints its App ID and App Certificate once.")
        @OptionGroup var store: StoreOptions
        @Flag(name: .customLong("no-certificate"), help: "An app whose clients log in without tokens.") var noCertificate = false
        @Option(name: .customLong("rest-token-scope"),
                help: "What an end user's token reaches on the REST API: app (Agora's behaviour) or user (its own data only).")
        var restTokenScope: RESTTokenScope = .app

        func run() async throws {
            let appID = Bootstrap.randomHex(bytes: 16)
            let certificate = noCertificate ? nil : Bootstrap.randomHex(bytes: 16)
            try await store.withRegistry {
                try await $0.upsertApp(AppRecord(appID: AppID(appID)!, certificate: certificate, restTokenScope: restTokenScope))
            }
            print("App ID:          \(appID)")
            print("App Certificate: \(certificate ?? "(none: logins need no token)")")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List apps (certificates are not shown).")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.withRegistry { registry in
                for app in try await registry.allApps() {
                    print("\(app.appID.rawValue)  \(app.certificate == nil ? "no certificate" : "certificate set")  rest_token_scope \(app.restTokenScope.rawValue)")
                }
            }
        }
    }
}

struct CredentialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "credential", abstract: "Manage REST customer credentials.",
                                                    subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a customer id and secret; the secret is printed once and only its hash is stored.")
        @OptionGroup var store: StoreOptions
        @Option(name: .customLong("app"), help: "An app id the credential may use (repeatable; default all apps).") var apps: [String] = []

        func run() async throws {
            let customerID = Bootstrap.randomHex(bytes: 16)
            let secret = Bootstrap.randomHex(bytes: 16)
            try await store.withRegistry { registry in
                try await registry.upsertCredential(CustomerCredential(customerID: customerID, secretHash: Signing.sha256Hex(secret),
                                                                       apps: apps.isEmpty ? ["*"] : apps))
            }
            print("Customer ID:     \(customerID)")
            print("Customer Secret: \(secret)")
        }
    }
}
