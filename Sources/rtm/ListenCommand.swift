import AgoraToken
import ArgumentParser
import Foundation
import RTMClient
import RTMProtocol

struct ListenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "listen",
                                                    abstract: "Log in over the client protocol and print what arrives.")

    @Option(help: "Gateway URL.") var url = "ws://127.0.0.1:8080/v1/ws"
    @Option(name: .customLong("app-id")) var appID: String
    @Option(name: .customLong("user-id")) var userID: String
    @Option(help: "An RTM token for the user.") var token: String?
    @Option(name: .customLong("app-certificate"),
            help: "Mint a 007 token locally with this certificate instead of --token (visible in ps; prefer the file or RTM_APP_CERTIFICATE).")
    var appCertificateValue: String?
    @Option(name: .customLong("app-certificate-file"), help: "A file holding the app certificate to mint a token with.")
    var appCertificateFile: String?
    @Option(help: "A channel to join (repeatable).") var channel: [String] = []
    @Option(help: "A user whose presence to watch (repeatable).") var watch: [String] = []
    @Option(help: "Stop after this many messages (default: run until interrupted).") var count: Int?

    func run() async throws {
        let client = RTMClient(serverURL: url, appID: appID)
        var token = self.token
        if token == nil, let appCertificate = try SecretInput.appCertificate.resolve(value: appCertificateValue, file: appCertificateFile) {
            token = RTMToken.build007(appID: appID, certificate: appCertificate, userID: userID, expireSeconds: 86_400,
                                      issuedAt: UInt32(Date().timeIntervalSince1970))
        }
        let states = Task {
            for await change in client.connectionStates {
                Self.say("connection_state state=\(change.state.rawValue) reason=\(change.reason.rawValue) (\(change.state), \(change.reason))")
                if change.state == .aborted { Foundation.exit(1) }  // kicked or token expired: no reconnect
            }
        }
        defer { states.cancel() }
        do {
            try await client.login(userID: userID, token: token)
        } catch {
            Self.say("login failed: LOGIN_ERR \(error.rawValue) (\(error))")
            throw ExitCode(1)
        }
        Self.say("logged in as \(userID)")
        for name in channel {
            do {
                try await client.channel(name).join()
                Self.say("joined \(name)")
            } catch {
                Self.say("join \(name) failed: JOIN_CHANNEL_ERR \(error.rawValue) (\(error))")
            }
        }
        if !watch.isEmpty {
            do {
                try await client.subscribePeersOnlineStatus(watch)
                Self.say("watching \(watch.joined(separator: ", "))")
            } catch {
                Self.say("subscribe failed: PEER_SUBSCRIPTION_STATUS_ERR \(error.rawValue)")
            }
        }
        var received = 0
        for await event in client.events {
            if case .connectionState = event { continue }  // printed from connectionStates
            Self.say(Self.describe(event))
            if case .peerMessage = event { received += 1 }
            if case .channelMessage = event { received += 1 }
            if let count, received >= count { break }
        }
        await client.logout()
    }

    static func say(_ line: String) {
        printLine(line)
    }

    static func describe(_ event: ServerEvent) -> String {
        func body(_ payload: MessagePayload) -> String {
            switch payload {
            case .text(let text): "text=\(quoted(text))"
            case .raw(let base64, let description): "raw=\(base64) description=\(quoted(description ?? ""))"
            }
        }
        switch event {
        case .peerMessage(let id, let from, let payload, _, let offline):
            return "peer_message from=\(from) \(body(payload)) id=\(id)\(offline ? " offline" : "")"
        case .channelMessage(let channel, let from, let id, let payload, _):
            return "channel_message channel=\(channel) from=\(from) \(body(payload)) id=\(id)"
        case .memberJoined(let channel, let user): return "member_joined channel=\(channel) user=\(user)"
        case .memberLeft(let channel, let user): return "member_left channel=\(channel) user=\(user)"
        case .memberCount(let channel, let count): return "member_count channel=\(channel) count=\(count)"
        case .connectionState(let state, let reason): return "connection_state state=\(state) reason=\(reason)"
        case .tokenPrivilegeWillExpire: return "token_privilege_will_expire"
        case .protocolError(let reason): return "protocol_error \(reason)"
        case .peersOnlineStatus(let statuses):
            return "peers_online_status " + statuses.map { "\($0.userID)=\($0.state)" }.joined(separator: " ")
        case .channelAttributesUpdated(let channel, let attributes):
            return "channel_attributes_updated channel=\(channel) " + attributes.map { "\($0.key)=\(quoted($0.value))" }.joined(separator: " ")
        }
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
