import Foundation
import Logging
import RTMProtocol
import Synchronization

/// A client of swift-rtm with the semantics of Agora RTM 1.x: log in, send and receive peer
/// messages with delivery acknowledgement, channels, presence and attributes, and automatic
/// reconnection that loses nothing.
///
/// ```swift
/// let client = RTMClient(serverURL: "ws://127.0.0.1:8080/v1/ws", appID: appID)
/// try await client.login(userID: "bob", token: token)
/// for await message in client.peerMessages { print(message.from, message.text ?? "") }
/// ```
///
/// Every failing call throws its op's error enum (`LoginErrorCode`, `JoinChannelErrorCode`, …),
/// whose raw values are Agora's numeric codes. Received peer messages are acknowledged automatically.
public final class RTMClient: Sendable {
    /// The first of ``serverURLs``.
    public var serverURL: String { serverURLs[0] }
    /// The gateway URLs the client connects to, in order of preference (a cluster's nodes, or one
    /// server): a connection that cannot be opened, or a server that says it is going away, moves the
    /// next attempt to the next URL.
    public let serverURLs: [String]
    public let appID: String
    let engine: ClientEngine
    let outputs: ClientOutputs
    private let channelObjects = Mutex<[String: RTMChannel]>([:])

    /// - Parameters:
    ///   - serverURL: the gateway URL, e.g. `ws://127.0.0.1:8080/v1/ws`.
    ///   - appID: the app to log in to.
    ///   - configuration: connection timings and the sleeper behind its timers.
    ///   - logger: where the client logs.
    public convenience init(serverURL: String, appID: String, configuration: RTMClientConfiguration = RTMClientConfiguration(),
                            logger: Logger = Logger(label: "rtm.client")) {
        self.init(serverURLs: [serverURL], appID: appID, configuration: configuration, logger: logger)
    }

    /// A client that fails over across `serverURLs` (at least one): the nodes of a cluster.
    /// - Parameters:
    ///   - serverURLs: gateway URLs, e.g. `["ws://node-1:8080/v1/ws", "ws://node-2:8080/v1/ws"]`.
    ///   - appID: the app to log in to.
    ///   - configuration: connection timings and the sleeper behind its timers.
    ///   - logger: where the client logs.
    public init(serverURLs: [String], appID: String, configuration: RTMClientConfiguration = RTMClientConfiguration(),
                logger: Logger = Logger(label: "rtm.client")) {
        precondition(!serverURLs.isEmpty, "RTMClient needs at least one server URL")
        self.serverURLs = serverURLs
        self.appID = appID
        self.outputs = ClientOutputs()
        self.engine = ClientEngine(urls: serverURLs, appID: appID, configuration: configuration, logger: logger, outputs: outputs)
    }

    // MARK: Connection

    /// Connection state changes (Agora's five states and nine reasons), in order. Single consumer.
    public var connectionStates: AsyncStream<ConnectionStateChange> { outputs.states }

    /// The current connection state.
    public var connectionState: ConnectionState { get async { await engine.state } }

    /// Logs in; the state goes CONNECTING, then CONNECTED.
    /// - Throws: `LoginErrorCode` (`.alreadyLoggedIn` unless DISCONNECTED; `.timeout` after 6 s).
    @discardableResult
    public func login(userID: String, token: String?) async throws(LoginErrorCode) -> LoginInfo {
        do {
            return try await engine.login(userID: userID, token: token)
        } catch let error as LoginErrorCode {
            throw error
        } catch {
            throw .unknown
        }
    }

    /// Logs out: channels are left, subscriptions and user attributes cleared, state DISCONNECTED (LOGOUT).
    public func logout() async {
        await engine.logout()
    }

    /// Replaces the token of the session (and of later reconnects).
    /// - Throws: `RenewTokenErrorCode`.
    public func renewToken(_ token: String) async throws(RenewTokenErrorCode) {
        let reply = try await call(.renewToken(token: token), notLoggedIn: RenewTokenErrorCode.userNotLoggedIn, interrupted: RenewTokenErrorCode.failure)
        guard reply.code == ReplyCode.ok else { throw RenewTokenErrorCode(rawValue: reply.code) ?? .failure }
        await engine.updateToken(token)
    }

    /// Every event from the server, in order (for tools such as `rtm listen`).
    public var events: AsyncStream<ServerEvent> { outputs.events }

    /// Completes a step each time the client restored its session after a fresh login (re-joined
    /// channels, re-pushed attributes, re-subscribed presence).
    public var sessionRestorations: AsyncStream<Void> { outputs.restored }

    // MARK: Peer messages

    /// Peer messages addressed to this user, in arrival order (replays after a reconnect included).
    public var peerMessages: AsyncStream<ReceivedPeerMessage> { outputs.peerMessages }

    /// Sends `message` to `peer` and waits for the outcome: `.ok` once the receiver acknowledged it,
    /// `.peerUnreachable` (offline), `.cachedByServer` (stored for later), `.sentTimeout` (no ack in 10 s
    /// or the link dropped), `.tooOften`, `.invalidUserID`, `.invalidMessage`, `.userNotLoggedIn`.
    public func sendMessage(_ message: RTMMessage, toPeer peer: String, options: SendMessageOptions = SendMessageOptions()) async
        -> PeerSendResult
    {
        do {
            let reply = try await engine.call(.sendPeer(to: peer, payload: message.payload, offline: options.enableOfflineMessaging,
                                                        history: options.enableHistoricalMessaging))
            return PeerSendResult(code: PeerMessageErrorCode(rawValue: reply.code) ?? .failure,
                                  messageID: reply.fields["message_id"]?.stringValue,
                                  serverTimestamp: reply.fields["server_ts"]?.intValue)
        } catch .notLoggedIn {
            return PeerSendResult(code: .userNotLoggedIn)
        } catch {
            return PeerSendResult(code: .sentTimeout)
        }
    }

    // MARK: Channels

    /// The channel object for `name` (the same instance each time).
    public func channel(_ name: String) -> RTMChannel {
        channelObjects.withLock { channels in
            if let existing = channels[name] { return existing }
            let channel = RTMChannel(name: name, client: self)
            channels[name] = channel
            return channel
        }
    }

    /// Member counts of up to 32 channels; membership is not needed.
    /// - Throws: `GetChannelMemberCountErrorCode`.
    public func getChannelMemberCount(_ channels: [String]) async throws(GetChannelMemberCountErrorCode) -> [String: Int] {
        let reply = try await call(.getChannelMemberCount(channels: channels), notLoggedIn: GetChannelMemberCountErrorCode.userNotLoggedIn, interrupted: GetChannelMemberCountErrorCode.timeout)
        guard reply.code == ReplyCode.ok else { throw GetChannelMemberCountErrorCode(rawValue: reply.code) ?? .failure }
        var counts: [String: Int] = [:]
        for (key, value) in reply.fields["counts"]?.objectValue ?? [:] { counts[key] = Int(value.intValue ?? 0) }
        return counts
    }

    // MARK: Internals

    /// Sends `request`; maps "not logged in" and "link down" to the op's codes.
    func call<Code: Error>(_ request: ClientRequest, notLoggedIn: Code, interrupted: Code) async throws(Code) -> ClientConnection.Reply {
        do {
            return try await engine.call(request)
        } catch .notLoggedIn {
            throw notLoggedIn
        } catch {
            throw interrupted
        }
    }
}
