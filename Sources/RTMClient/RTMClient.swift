import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import RTMProtocol
import Synchronization

/// A client of the swift-rtm WebSocket protocol: log in, receive peer and channel messages as
/// async sequences (each peer message is acknowledged automatically), send, join and leave.
///
/// ```swift
/// let client = RTMClient(serverURL: "ws://127.0.0.1:8080/v1/ws", appID: appID)
/// try await client.login(userID: "bob", token: token)
/// for await message in client.peerMessages { print(message.from, message.text ?? "") }
/// ```
public final class RTMClient: Sendable {
    public let serverURL: String
    public let appID: String
    let logger: Logger
    let connection: Mutex<ClientConnection?> = Mutex(nil)
    let streams = ClientStreams()

    /// - Parameters:
    ///   - serverURL: the gateway URL, e.g. `ws://127.0.0.1:8080/v1/ws`.
    ///   - appID: the app to log in to.
    public init(serverURL: String, appID: String, logger: Logger = Logger(label: "rtm.client")) {
        self.serverURL = serverURL
        self.appID = appID
        self.logger = logger
    }

    /// Peer messages addressed to this user, in arrival order. Single consumer.
    public var peerMessages: AsyncStream<ReceivedPeerMessage> { streams.peerMessages }

    /// Every event the server sends (channel messages, member events, connection state, …).
    public var events: AsyncStream<ServerEvent> { streams.events }

    /// The WebSocket close code of the last connection, once it has closed.
    public var lastCloseCode: UInt16? { streams.closeCode.withLock { $0 } }

    /// Opens the socket and logs in.
    /// - Throws: ``RTMClientError/login(_:)`` with the server's code, or ``RTMClientError/disconnected``.
    @discardableResult
    public func login(userID: String, token: String?) async throws -> LoginInfo {
        let connection = try await ClientConnection.open(url: serverURL, streams: streams, logger: logger)
        self.connection.withLock { $0 = connection }
        let reply = try await connection.request(.login(appID: appID, userID: userID, token: token))
        guard reply.code == 0 else {
            connection.close()
            throw RTMClientError.login(LoginErrorCode(rawValue: reply.code) ?? .unknown)
        }
        return LoginInfo(sessionID: reply.fields["session_id"]?.stringValue ?? "",
                         serverTimestamp: reply.fields["server_ts"]?.intValue ?? 0,
                         tokenExpiresAt: reply.fields["token_expires_at"]?.intValue)
    }

    /// Logs out and closes the socket.
    public func logout() async throws {
        guard let connection = connection.withLock({ $0 }) else { throw RTMClientError.notLoggedIn }
        _ = try? await connection.request(.logout)
        connection.close()
    }

    /// Sends a text message to `peer` and waits for the outcome (receiver ack, offline, timeout…).
    public func sendMessage(_ text: String, toPeer peer: String) async throws -> PeerSendResult {
        let reply = try await request(.sendPeer(to: peer, payload: .text(text), offline: false, history: false))
        return PeerSendResult(code: PeerMessageErrorCode(rawValue: reply.code) ?? .failure,
                              messageID: reply.fields["message_id"]?.stringValue,
                              serverTimestamp: reply.fields["server_ts"]?.intValue)
    }

    /// Joins `channel`. - Throws: ``RTMClientError/request(op:code:)`` with a `JOIN_CHANNEL_ERR_*` code.
    public func join(_ channel: String) async throws {
        try await expectOK(.join(channel: channel))
    }

    /// Leaves `channel`.
    public func leave(_ channel: String) async throws {
        try await expectOK(.leave(channel: channel))
    }

    /// Sends a text message to a joined channel; returns once the server accepted it.
    public func sendChannelMessage(_ text: String, to channel: String) async throws {
        try await expectOK(.sendChannel(channel: channel, payload: .text(text), history: false))
    }

    /// Members of a joined channel (at most 512).
    public func members(of channel: String) async throws -> [String] {
        let reply = try await expectOK(.getMembers(channel: channel))
        return reply.fields["members"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// Member counts of up to 32 channels (membership not needed).
    public func memberCounts(of channels: [String]) async throws -> [String: Int] {
        let reply = try await expectOK(.getChannelMemberCount(channels: channels))
        var counts: [String: Int] = [:]
        for (key, value) in reply.fields["counts"]?.objectValue ?? [:] { counts[key] = Int(value.intValue ?? 0) }
        return counts
    }

    /// Closes the socket without logging out.
    public func disconnect() {
        connection.withLock { $0 }?.close()
    }

    @discardableResult
    private func expectOK(_ request: ClientRequest) async throws -> ClientConnection.Reply {
        let reply = try await self.request(request)
        guard reply.code == 0 else { throw RTMClientError.request(op: request.op, code: reply.code) }
        return reply
    }

    private func request(_ request: ClientRequest) async throws -> ClientConnection.Reply {
        guard let connection = connection.withLock({ $0 }) else { throw RTMClientError.notLoggedIn }
        return try await connection.request(request)
    }
}

/// The client's output streams, which outlive any one socket.
final class ClientStreams: Sendable {
    let peerMessages: AsyncStream<ReceivedPeerMessage>
    let peerContinuation: AsyncStream<ReceivedPeerMessage>.Continuation
    let events: AsyncStream<ServerEvent>
    let eventContinuation: AsyncStream<ServerEvent>.Continuation
    let closeCode = Mutex<UInt16?>(nil)

    init() {
        (peerMessages, peerContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(100_000))
        (events, eventContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(100_000))
    }
}
