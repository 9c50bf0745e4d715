import AgoraToken
import NIOCore
import RTMCore
import RTMProtocol

extension GatewayConnection {
    /// `login` (`client-protocol.md` §2, `server-contract.md` §4 for the codes).
    func login(appText: String, userText: String, token: String?, id: Int64, loop: inout ReadLoop) async {
        guard loop.limits.allow(.logins, now: clock.nowMilliseconds()) else { return reply(id, code: LoginErrorCode.tooOften.rawValue) }
        guard session == nil else { return reply(id, code: LoginErrorCode.alreadyLoggedIn.rawValue) }
        guard let user = UserID(userText), userText != "null" else { return failLogin(id, .invalidArgument) }
        guard let appID = AppID(appText), let app = await gateway.apps.app(appID) else { return failLogin(id, .invalidAppID) }
        let expiresAt: Int64?
        switch verify(token: token, app: app, user: user) {
        case .failure(let code): return failLogin(id, code)
        case .success(let expiry): expiresAt = expiry
        }
        startSession(sessionID: gateway.sessionIDs.next(), app: appID, user: user, expiresAt: expiresAt, id: id) { routerSession in
            broker.login(routerSession)
            gateway.metrics.loginsOK.increment()
        }
    }

    /// Starts a session on this socket (a login, or a takeover): bound to the socket, the OK reply
    /// queued, registered for `resume`, handed to the broker by `enter`, its token timer armed and
    /// the offline store delivered.
    private func startSession(sessionID: String, app: AppID, user: UserID, expiresAt: Int64?, id: Int64, numberingAfter lastSeq: Int64 = 0,
                              enter: (RouterSession) -> Void) {
        let session = GatewaySession(sessionID: sessionID, gateway: gateway)
        let routerSession = RouterSession(appID: app, userID: user, sessionID: sessionID, sink: session)
        // The socket may have closed, or another login raced in, while the app was looked up.
        guard bind(routerSession, session) else { return failLogin(id, .alreadyLoggedIn) }
        session.start(routerSession: routerSession, on: self, numberingAfter: lastSeq)
        // The reply is queued before the router knows the session: nothing sent to the session (an
        // event, or the kick of a racing login of the same user) can reach the socket before it.
        replyLoggedIn(id, sessionID: sessionID, expiresAt: expiresAt)
        gateway.register(routerSession)
        enter(routerSession)
        session.scheduleTokenTimer(expiresAt: expiresAt, on: channel.eventLoop)
        let messages = gateway.messages
        Task { await messages.deliverStoredMessages(to: routerSession) }
    }

    /// `resume`: re-attaches a session that dropped less than the grace period ago and replays
    /// what the client missed after `lastEventSeq`. Unknown or expired sessions answer 2 REJECTED.
    func resume(sessionID: String, token: String?, lastEventSeq: Int64, id: Int64, loop: inout ReadLoop) async {
        guard loop.limits.allow(.logins, now: clock.nowMilliseconds()) else { return reply(id, code: LoginErrorCode.tooOften.rawValue) }
        guard session == nil else { return reply(id, code: LoginErrorCode.alreadyLoggedIn.rawValue) }
        guard let routerSession = gateway.lookup(sessionID: sessionID), let session = routerSession.sink as? GatewaySession,
              let app = await gateway.apps.app(routerSession.appID) else {
            if let orphan = broker.takeOver(sessionID: sessionID) {
                return await takeOver(orphan, token: token, after: lastEventSeq, id: id)
            }
            return failLogin(id, .rejected)
        }
        let expiresAt: Int64?
        switch verify(token: token, app: app, user: routerSession.userID) {
        case .failure(let code): return failLogin(id, code)
        case .success(let expiry): expiresAt = expiry
        }
        guard !session.isEnded, broker.reattach(routerSession), bind(routerSession, session) else { return failLogin(id, .rejected) }
        gateway.metrics.resumes.increment()
        replyLoggedIn(id, sessionID: routerSession.sessionID, expiresAt: expiresAt)
        let joined = broker.joinedChannels(of: routerSession)
        if let previous = session.resume(on: self, after: lastEventSeq, joined: joined) {
            // A half-open older socket of the same session: drop it quietly.
            previous.unbind()
            previous.close(code: RTMCloseCode.normal, reason: "resumed elsewhere")
        }
        session.scheduleTokenTimer(expiresAt: expiresAt, on: channel.eventLoop)
    }

    /// `resume` of a session another node held (lost, stopping, or not known lost yet: docs/CLUSTER.md,
    /// "Takeover"): once the token is checked, the session starts here under its id, with the channels,
    /// subscriptions and user attributes the cluster knew, its events numbered on from `lastEventSeq`;
    /// what lived only in the other node's memory (its replay buffers) is gone, and the offline store
    /// is delivered.
    private func takeOver(_ orphan: OrphanedSession, token: String?, after lastEventSeq: Int64, id: Int64) async {
        guard let app = await gateway.apps.app(orphan.appID) else { return failLogin(id, .rejected) }
        let expiresAt: Int64?
        switch verify(token: token, app: app, user: orphan.userID) {
        case .failure(let code): return failLogin(id, code)
        case .success(let expiry): expiresAt = expiry
        }
        startSession(sessionID: orphan.sessionID, app: orphan.appID, user: orphan.userID, expiresAt: expiresAt, id: id,
                     numberingAfter: lastEventSeq) { routerSession in
            broker.restore(routerSession, from: orphan)
            gateway.metrics.takeovers.increment()
        }
    }

    /// The OK reply of `login` and `resume`: the session id, the server time and the token's expiry.
    private func replyLoggedIn(_ id: Int64, sessionID: String, expiresAt: Int64?) {
        reply(id, code: LoginErrorCode.ok.rawValue) { reply in
            reply.field("session_id", sessionID)
            reply.field("server_ts", clock.nowMilliseconds())
            if let expiresAt { reply.field("token_expires_at", expiresAt) } else { reply.nullField("token_expires_at") }
        }
    }

    private func failLogin(_ id: Int64, _ code: LoginErrorCode) {
        gateway.metrics.loginsFailed.increment()
        reply(id, code: code.rawValue)
    }

    /// Checks the token against the app: `nil` expiry when the app has no certificate.
    private func verify(token: String?, app: AppRecord, user: UserID) -> Result<Int64?, LoginErrorCode> {
        guard let certificate = app.certificate else { return .success(nil) }
        guard let token, !token.isEmpty else { return .failure(.invalidToken) }
        switch RTMToken.verify(token, appID: app.appID.rawValue, certificate: certificate, userID: user.rawValue,
                               now: clock.nowSeconds()) {
        case .success(let verified): return .success(verified.expiresAt)
        case .failure(.expired), .failure(.privilegeExpired): return .failure(.tokenExpired)
        case .failure: return .failure(.invalidToken)
        }
    }

    /// `renew_token`: verifies the new token for the session's app and user and restarts the expiry timer.
    func renewToken(_ token: String, id: Int64, routerSession: RouterSession) async {
        guard !token.isEmpty else { return reply(id, code: RenewTokenErrorCode.invalidArgument.rawValue) }
        guard let app = await gateway.apps.app(routerSession.appID) else { return reply(id, code: RenewTokenErrorCode.failure.rawValue) }
        switch verify(token: token, app: app, user: routerSession.userID) {
        case .success(let expiresAt):
            session?.scheduleTokenTimer(expiresAt: expiresAt, on: channel.eventLoop)
            reply(id, code: RenewTokenErrorCode.ok.rawValue) { reply in
                if let expiresAt { reply.field("token_expires_at", expiresAt) } else { reply.nullField("token_expires_at") }
            }
        case .failure(.tokenExpired): reply(id, code: RenewTokenErrorCode.tokenExpired.rawValue)
        case .failure: reply(id, code: RenewTokenErrorCode.invalidToken.rawValue)
        }
    }

    /// `logout`: the session ends now (channels left, OFFLINE to subscribers, attributes dropped).
    func endSession() {
        guard let session else { return }
        let (_, routerSession) = session.end()
        unbind()
        if let routerSession { broker.logout(routerSession) }
    }
}
