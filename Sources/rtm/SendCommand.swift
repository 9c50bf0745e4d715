import ArgumentParser
import Foundation
import RTMClient

struct RESTOptions: ParsableArguments {
    @Option(help: "Server base URL; repeat it to fail over to the next one.") var url: [String] = ["http://127.0.0.1:8080"]
    @Option(name: .customLong("app-id")) var appID: String
    @Option(name: .customLong("customer-id"), help: "Basic auth customer id.") var customerID: String?
    @Option(name: .customLong("customer-secret"),
            help: "Basic auth customer secret (visible in ps; prefer --customer-secret-file or RTM_CUSTOMER_SECRET).")
    var customerSecretValue: String?
    @Option(name: .customLong("customer-secret-file"), help: "A file holding the customer secret.") var customerSecretFile: String?
    @Option(help: "An RTM token for the sending user (instead of Basic auth).") var token: String?
    @Option(help: "The sending user id.") var from: String

    func client() throws -> RTMRestClient {
        let credentials: RTMRestClient.Credentials
        let customerSecret = try SecretInput.customerSecret.resolve(value: customerSecretValue, file: customerSecretFile)
        if let customerID, let customerSecret {
            credentials = .basic(customerID: customerID, secret: customerSecret)
        } else if let token {
            credentials = .token(token: token, userID: from)
        } else {
            throw ValidationError("Give --customer-id with the secret (--customer-secret-file, RTM_CUSTOMER_SECRET or --customer-secret), or --token.")
        }
        return RTMRestClient(baseURLs: url, appID: appID, credentials: credentials, onAttempt: { printLine("POST via \($0)") })
    }

    /// Prints the outcome (`message_sent`, `message_delivered`, `message_offline`) or the failure.
    static func report(_ call: () async throws(RTMRestClient.Failure) -> RTMRestClient.Outcome) async throws {
        do {
            printLine(try await call().rawValue)
        } catch {
            switch error {
            case .rejected(let status, let code, let message): printLine("failed: HTTP \(status) \(code) \(message)")
            case .unreachable(let attempts): printLine("failed: no server reachable after \(attempts) attempts")
            }
            throw ExitCode(1)
        }
    }
}

struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "send", abstract: "Send a message through the REST API.",
                                                    subcommands: [Peer.self, Channel.self])

    struct Peer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "POST …/peer_messages")
        @OptionGroup var rest: RESTOptions
        @Option(help: "Receiving user id.") var to: String
        @Option(help: "Message text.") var payload: String
        @Flag(name: .customLong("wait-for-ack")) var waitForAck = false
        @Flag(name: .customLong("offline")) var offline = false
        @Flag(name: .customLong("history")) var history = false

        func run() async throws {
            let client = try rest.client()
            try await RESTOptions.report { () async throws(RTMRestClient.Failure) -> RTMRestClient.Outcome in
                try await client.sendPeerMessage(from: rest.from, to: to, payload: payload, waitForAck: waitForAck,
                                                 enableOfflineMessaging: offline, enableHistoricalMessaging: history)
            }
        }
    }

    struct Channel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "POST …/channel_messages")
        @OptionGroup var rest: RESTOptions
        @Option(help: "Channel name.") var channel: String
        @Option(help: "Message text.") var payload: String
        @Flag(name: .customLong("history")) var history = false

        func run() async throws {
            let client = try rest.client()
            try await RESTOptions.report { () async throws(RTMRestClient.Failure) -> RTMRestClient.Outcome in
                try await client.sendChannelMessage(from: rest.from, channel: channel, payload: payload, enableHistoricalMessaging: history)
            }
        }
    }
}
