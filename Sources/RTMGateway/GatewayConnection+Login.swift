import AgoraToken
import NIOCore
import RTMCore
import RTMProtocol

extension GatewayConnection {
    /// `login` (`client-protocol.md` §2, `server-contract.md` §4 for the codes).
    func login(_ request: ClientRequest, id: Int64, loop: inout ReadLoop) async {
        guard case .login(let appText, let userText, let token) = request else { return }
        let now = clock.nowMilliseconds()
        guard loop.limits.allow(.logins, now: now) else { return reply(id, code: LoginErrorCode.tooOften.rawValue) }
        guard session == nil else { return reply(id, code: LoginErrorCode.alreadyLoggedIn.rawValue) }
        guard let user = UserID(userText), userText != "null" else {
            return failLogin(id, .invalidArgument)
        }
        guard let appID = AppID(appText), let app = await gateway.apps.app(appID) else {
            return failLogin(id, .invalidAppID)
        }
        let expiresAt: Int64?
        switch verify(token: token, app: app, user: user) {
        case .failure(let code): return failLogin(id, code)
        case .success(let expiry): expiresAt = expiry
        }
        // The socket may have closed, or another login raced in, while the app was looked up.
        let newSession = RouterSession(appID: appID, userID: user, sessionID: gateway.sessionIDs.next(), sink: self)
        let accepted = shared.withLock { shared -> Bool in
            guard !shared.finished, shared.session == nil else { return false }
            shared.session = newSession
            return true
        }
        guard accepted else { return failLogin(id, .alreadyLoggedIn) }
        router.login(newSession)
        gateway.metrics.loginsOK.increment()
        reply(id, code: LoginErrorCode.ok.rawValue) { reply in
            reply.field("session_id", newSession.sessionID)
            reply.field("server_ts", clock.nowMilliseconds())
            if let expiresAt { reply.field("token_expires_at", expiresAt) } else { reply.nullField("token_expires_at") }
        }
        scheduleTokenTimer(expiresAt: expiresAt)
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
    func renewToken(_ token: String, id: Int64, session: RouterSession) async {
        guard !token.isEmpty else { return reply(id, code: RenewTokenErrorCode.invalidArgument.rawValue) }
        guard let app = await gateway.apps.app(session.appID) else { return reply(id, code: RenewTokenErrorCode.failure.rawValue) }
        switch verify(token: token, app: app, user: session.userID) {
        case .success(let expiresAt):
            scheduleTokenTimer(expiresAt: expiresAt)
            reply(id, code: RenewTokenErrorCode.ok.rawValue) { reply in
                if let expiresAt { reply.field("token_expires_at", expiresAt) } else { reply.nullField("token_expires_at") }
            }
        case .failure(.tokenExpired): reply(id, code: RenewTokenErrorCode.tokenExpired.rawValue)
        case .failure: reply(id, code: RenewTokenErrorCode.invalidToken.rawValue)
        }
    }

    /// Warns `tokenWarningLead` before `expiresAt` (Unix seconds) and ends the session once it has passed.
    private func scheduleTokenTimer(expiresAt: Int64?) {
        let timer: Task<Void, Never>? = expiresAt.map { expiresAt in
            Task { [clock, lead = gateway.configuration.tokenWarningLead] in
                let leadMS = lead.components.seconds * 1000
                let expiryMS = expiresAt * 1000
                let untilWarning = expiryMS - leadMS - clock.nowMilliseconds()
                if untilWarning > 0 {
                    do { try await clock.sleep(for: .milliseconds(untilWarning)) } catch { return }
                }
                if clock.nowMilliseconds() < expiryMS { self.sendEvent(.tokenPrivilegeWillExpire) }
                // Expired iff now > expiry, in whole seconds.
                let untilExpiry = expiryMS + 1000 - clock.nowMilliseconds()
                if untilExpiry > 0 {
                    do { try await clock.sleep(for: .milliseconds(untilExpiry)) } catch { return }
                }
                guard !Task.isCancelled else { return }
                self.terminate(.tokenExpired)
            }
        }
        let previous = shared.withLock { shared -> Task<Void, Never>? in
            defer { shared.tokenTimer = timer }
            return shared.tokenTimer
        }
        previous?.cancel()
    }

    /// Logs the session out of the router (explicit `logout`).
    func endSession() {
        let (session, timer) = shared.withLock { shared -> (RouterSession?, Task<Void, Never>?) in
            defer { shared.session = nil; shared.tokenTimer = nil }
            return (shared.session, shared.tokenTimer)
        }
        timer?.cancel()
        if let session { router.logout(session) }
    }
}
