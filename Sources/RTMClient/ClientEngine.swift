import Foundation
import Logging
import RTMProtocol

/// Drives a ``ConnectionStateMachine``: performs its actions (sockets, frames, timers) and feeds it
/// what happens. Also remembers what a fresh login must restore: joined channels, the local user's
/// attributes and presence subscriptions.
actor ClientEngine {
    /// Why a request could not be sent or got no reply.
    enum CallFailure: Error {
        /// Not logged in (every op's 102).
        case notLoggedIn
        /// Logged in, but the link is down or dropped before the reply (the op's timeout code).
        case interrupted
    }

    /// The servers to try, in order; ``url`` is the one the next socket opens to.
    let urls: [String]
    private var urlIndex = 0
    /// Servers that could not be reached during the login in progress (each is tried once).
    private var unreachableWhileLoggingIn = 0
    var url: String { urls[urlIndex] }
    let appID: String
    let configuration: RTMClientConfiguration
    let logger: Logger
    let outputs: ClientOutputs

    private var machine: ConnectionStateMachine
    private var connection: ClientConnection?
    private var timers: [ConnectionStateMachine.Timer: Task<Void, Never>] = [:]
    private var userID = ""
    private var token: String?
    private var loginWaiter: CheckedContinuation<LoginInfo, any Error>?
    private var lastLoginReply: ClientConnection.Reply?
    private var lastSeq: Int64 = 0

    // What a fresh login restores.
    private(set) var joinedChannels: Set<String> = []
    private(set) var localAttributes: [String: String] = [:]
    private(set) var subscriptions: Set<String> = []

    init(urls: [String], appID: String, configuration: RTMClientConfiguration, logger: Logger, outputs: ClientOutputs) {
        self.urls = urls
        self.appID = appID
        self.configuration = configuration
        self.logger = logger
        self.outputs = outputs
        self.machine = ConnectionStateMachine(timings: configuration.timings)
    }

    var state: ConnectionState { machine.state }

    // MARK: Public operations

    func login(userID: String, token: String?) async throws -> LoginInfo {
        guard machine.state == .disconnected else { throw LoginErrorCode.alreadyLoggedIn }
        self.userID = userID
        self.token = token
        unreachableWhileLoggingIn = 0
        lastSeq = 0
        joinedChannels = []
        localAttributes = [:]
        subscriptions = []
        return try await withCheckedThrowingContinuation { continuation in
            loginWaiter = continuation
            feed(.loginRequested)
        }
    }

    func logout() async {
        if machine.isConnected, let connection { _ = try? await connection.request(.logout) }
        feed(.logoutRequested)
    }

    func updateToken(_ token: String) { self.token = token }

    /// Sends a request on the live socket.
    func call(_ request: ClientRequest) async throws(CallFailure) -> ClientConnection.Reply {
        guard machine.state != .disconnected, machine.state != .aborted else { throw .notLoggedIn }
        guard machine.isConnected, let connection else { throw .interrupted }
        do {
            return try await connection.request(request)
        } catch {
            throw .interrupted
        }
    }

    // Bookkeeping after successful calls, for restoring after a fresh login.
    func didJoin(_ channel: String) { joinedChannels.insert(channel) }
    func didLeave(_ channel: String) { joinedChannels.remove(channel) }
    func didSubscribe(_ users: [String]) { subscriptions.formUnion(users) }
    func didUnsubscribe(_ users: [String]) { subscriptions.subtract(users) }
    func didWriteAttributes(_ apply: @Sendable (inout [String: String]) -> Void) { apply(&localAttributes) }

    // MARK: The machine

    private func feed(_ input: ConnectionStateMachine.Input) {
        for action in machine.handle(input) { perform(action) }
    }

    private func perform(_ action: ConnectionStateMachine.Action) {
        switch action {
        case .notify(let change):
            outputs.stateContinuation.yield(change)
            if change.state == .disconnected || change.state == .aborted { resolveLogin(change) }
        case .openSocket:
            openSocket()
        case .sendLogin:
            send(.login(appID: appID, userID: userID, token: token), isResume: false)
        case .sendResume(let sessionID):
            send(.resume(sessionID: sessionID, token: token, lastEventSeq: lastSeq), isResume: true)
        case .startTimer(let timer, let delay):
            timers[timer]?.cancel()
            let sleeper = configuration.sleeper
            timers[timer] = Task {
                do { try await sleeper.sleep(for: delay) } catch { return }
                self.timerFired(timer)
            }
        case .cancelTimer(let timer):
            timers.removeValue(forKey: timer)?.cancel()
        case .closeSocket:
            connection?.close()
            connection = nil
        case .restoreSession:
            Task { await self.restore() }
        case .failPendingRequests:
            connection?.failAll()
        }
    }

    private func timerFired(_ timer: ConnectionStateMachine.Timer) {
        guard timers.removeValue(forKey: timer) != nil else { return }
        feed(.timerFired(timer))
    }

    private func openSocket() {
        Task {
            do {
                let opened = try await ClientConnection.open(url: url, logger: logger, onEvent: { connection, seq, event in
                    await self.received(event, seq: seq, on: connection)
                }, onClose: { connection in
                    await self.closed(connection)
                })
                self.socketOpened(opened)
            } catch {
                self.socketFailed()
            }
        }
    }

    private func socketOpened(_ opened: ClientConnection) {
        connection?.close()
        connection = opened
        feed(.socketOpened)
    }

    private func socketFailed() {
        moveToNextServer()
        // A login tries each server once (within its timeout) before it fails.
        if machine.state == .connecting, unreachableWhileLoggingIn + 1 < urls.count {
            unreachableWhileLoggingIn += 1
            openSocket()
            return
        }
        feed(.socketFailed(nowMilliseconds: Self.now()))
    }

    /// The next socket opens to the next server of the list (after one could not be opened, or
    /// said it is going away).
    private func moveToNextServer() {
        guard urls.count > 1 else { return }
        urlIndex = (urlIndex + 1) % urls.count
        logger.info("next connection attempt: \(url)")
    }

    private func closed(_ closed: ClientConnection) {
        guard closed === connection else { return }
        connection = nil
        feed(.socketFailed(nowMilliseconds: Self.now()))
    }

    private func send(_ request: ClientRequest, isResume: Bool) {
        guard let connection else { return }
        Task {
            let reply = try? await connection.request(request)
            self.answered(reply, isResume: isResume, on: connection)
        }
    }

    private func answered(_ reply: ClientConnection.Reply?, isResume: Bool, on answered: ClientConnection) {
        guard answered === connection else { return }
        guard let reply else { return }  // the socket closed; `closed` feeds the machine
        if reply.code == ReplyCode.ok {
            lastLoginReply = reply
            let sessionID = reply.fields["session_id"]?.stringValue ?? ""
            if isResume {
                feed(.resumeSucceeded)
            } else {
                lastSeq = 0
                feed(.loginSucceeded(sessionID: sessionID))
                resolveLogin(nil)
            }
        } else if isResume {
            feed(.resumeRejected)
        } else {
            lastLoginReply = reply
            feed(.loginFailed(LoginErrorCode(rawValue: reply.code) ?? .unknown))
        }
    }

    private func resolveLogin(_ failure: ConnectionStateChange?) {
        guard let waiter = loginWaiter else { return }
        loginWaiter = nil
        if failure == nil, let reply = lastLoginReply {
            waiter.resume(returning: LoginInfo(sessionID: reply.fields["session_id"]?.stringValue ?? "",
                                               serverTimestamp: reply.fields["server_ts"]?.intValue ?? 0,
                                               tokenExpiresAt: reply.fields["token_expires_at"]?.intValue))
        } else if let reply = lastLoginReply, reply.code != 0 {
            waiter.resume(throwing: LoginErrorCode(rawValue: reply.code) ?? .unknown)
        } else {
            waiter.resume(throwing: failure?.reason == .loginTimeout ? LoginErrorCode.timeout : LoginErrorCode.unknown)
        }
    }

    private func received(_ event: ServerEvent, seq: Int64?, on source: ClientConnection) {
        guard source === connection else { return }
        if let seq { lastSeq = max(lastSeq, seq) }
        switch event {
        case .connectionState(let state, let reason) where state == ConnectionState.aborted.rawValue:
            feed(.serverEnded(ConnectionChangeReason(rawValue: reason) ?? .bannedByServer))
        case .connectionState(let state, _) where state == ConnectionState.reconnecting.rawValue:
            moveToNextServer()
            feed(.serverShuttingDown(nowMilliseconds: Self.now()))
        default:
            break
        }
        outputs.deliver(event)
    }

    /// After a fresh login that replaced an expired session: join again, push attributes, watch again.
    private func restore() async {
        for channel in joinedChannels.sorted() {
            _ = try? await call(.join(channel: channel))
        }
        if !localAttributes.isEmpty {
            let pairs = localAttributes.keys.sorted().map { AttributePair(key: $0, value: localAttributes[$0]!) }
            _ = try? await call(.setLocalUserAttributes(pairs))
        }
        if !subscriptions.isEmpty {
            _ = try? await call(.subscribePeersOnlineStatus(userIDs: subscriptions.sorted()))
        }
        outputs.restoredContinuation.yield()
    }

    private static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
