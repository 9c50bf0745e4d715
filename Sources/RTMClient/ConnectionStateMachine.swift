import RTMProtocol

/// A change of the client's connection state, with Agora's numeric state and reason.
public struct ConnectionStateChange: Sendable, Equatable {
    public var state: ConnectionState
    public var reason: ConnectionChangeReason

    public init(state: ConnectionState, reason: ConnectionChangeReason) {
        self.state = state
        self.reason = reason
    }
}

/// The client's connection logic as a plain value: inputs in, actions out, no I/O and no clock of
/// its own. ``RTMClient`` performs the actions (open sockets, send frames, start timers).
///
/// It follows the RTM 1.x transitions (`agora-rtm-client.md` §1.3, §1.5): DISCONNECTED → CONNECTING
/// → CONNECTED; a dropped link stays CONNECTED for 4 s, then RECONNECTING (INTERRUPTED) while it
/// retries with backoff; within 30 s it resumes the session (the server replays what was missed),
/// after that it logs in again and restores channels, attributes and subscriptions; a remote login or
/// an expired token ends in ABORTED, which never reconnects.
public struct ConnectionStateMachine: Sendable, Equatable {
    /// Timers the machine asks for.
    public enum Timer: Sendable, Equatable, Hashable {
        case loginTimeout, interrupted, reconnect
    }

    /// What the driver must do, in order.
    public enum Action: Sendable, Equatable {
        case notify(ConnectionStateChange)
        case openSocket
        case sendLogin
        case sendResume(sessionID: String)
        case startTimer(Timer, after: Duration)
        case cancelTimer(Timer)
        case closeSocket
        /// Re-join channels, re-push user attributes, re-subscribe presence (a fresh login after a long drop).
        case restoreSession
        /// Fail requests waiting for replies on the lost socket.
        case failPendingRequests
    }

    /// Inputs from the driver.
    public enum Input: Sendable, Equatable {
        case loginRequested
        case socketOpened
        case socketFailed(nowMilliseconds: Int64)
        case loginSucceeded(sessionID: String)
        case loginFailed(LoginErrorCode)
        case resumeSucceeded
        case resumeRejected
        case timerFired(Timer)
        case serverEnded(ConnectionChangeReason)
        case serverShuttingDown(nowMilliseconds: Int64)
        case logoutRequested
    }

    /// Timings; the defaults are Agora's.
    public struct Timings: Sendable, Equatable {
        public var loginTimeout: Duration = .seconds(6)
        public var interruptedAfter: Duration = .seconds(4)
        public var resumeWindow: Duration = .seconds(30)
        /// Delays before each reconnect attempt; the last repeats.
        public var backoff: [Duration] = [.milliseconds(0), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8)]

        public init() {}
    }

    enum Phase: Sendable, Equatable {
        case idle
        case loggingIn
        case connected
        /// The link is down (or being re-established); `since` is when it dropped.
        case recovering(since: Int64, attempt: Int, awaiting: Awaiting)
        case aborted
    }

    enum Awaiting: Sendable, Equatable {
        case backoff, socket, resume, login
    }

    public private(set) var state: ConnectionState = .disconnected
    public private(set) var sessionID: String?
    var phase: Phase = .idle
    let timings: Timings

    public init(timings: Timings = Timings()) {
        self.timings = timings
    }

    /// Feeds one input; returns the actions to perform.
    public mutating func handle(_ input: Input) -> [Action] {
        switch (phase, input) {
        case (.idle, .loginRequested):
            phase = .loggingIn
            return [move(.connecting, .login), .openSocket, .startTimer(.loginTimeout, after: timings.loginTimeout)]
        case (.loggingIn, .socketOpened):
            return [.sendLogin]
        case (.loggingIn, .loginSucceeded(let id)):
            sessionID = id
            phase = .connected
            return [.cancelTimer(.loginTimeout), move(.connected, .loginSuccess)]
        case (.loggingIn, .loginFailed):
            return fail(.loginFailure)
        case (.loggingIn, .socketFailed):
            return fail(.loginFailure)
        case (.loggingIn, .timerFired(.loginTimeout)):
            return fail(.loginTimeout)

        case (.connected, .socketFailed(let now)):
            phase = .recovering(since: now, attempt: 0, awaiting: .backoff)
            return [.failPendingRequests, .startTimer(.interrupted, after: timings.interruptedAfter),
                    .startTimer(.reconnect, after: delay(0))]
        case (.connected, .serverShuttingDown(let now)), (.recovering, .serverShuttingDown(let now)):
            phase = .recovering(since: now, attempt: 0, awaiting: .backoff)
            return [.failPendingRequests, .closeSocket, move(.reconnecting, .interrupted), .cancelTimer(.interrupted),
                    .startTimer(.reconnect, after: delay(0))]
        case (.recovering, .timerFired(.interrupted)):
            return state == .reconnecting ? [] : [move(.reconnecting, .interrupted)]
        case (.recovering(let since, let attempt, .backoff), .timerFired(.reconnect)):
            phase = .recovering(since: since, attempt: attempt, awaiting: .socket)
            return [.openSocket]
        case (.recovering(let since, let attempt, .socket), .socketOpened):
            if let sessionID {
                phase = .recovering(since: since, attempt: attempt, awaiting: .resume)
                return [.sendResume(sessionID: sessionID)]
            }
            phase = .recovering(since: since, attempt: attempt, awaiting: .login)
            return [.sendLogin]
        case (.recovering(let since, let attempt, .resume), .resumeSucceeded):
            phase = .connected
            _ = (since, attempt)
            return [.cancelTimer(.interrupted)] + (state == .connected ? [] : [move(.connected, .loginSuccess)])
        case (.recovering(let since, let attempt, .resume), .resumeRejected):
            sessionID = nil
            phase = .recovering(since: since, attempt: attempt, awaiting: .login)
            return [.sendLogin]
        case (.recovering, .loginSucceeded(let id)):
            sessionID = id
            phase = .connected
            let notify: [Action] = state == .connected ? [] : [move(.connected, .loginSuccess)]
            return [.cancelTimer(.interrupted)] + notify + [.restoreSession]
        case (.recovering, .loginFailed(.tokenExpired)):
            return abort(.tokenExpired)
        case (.recovering(let since, let attempt, _), .loginFailed), (.recovering(let since, let attempt, _), .socketFailed):
            phase = .recovering(since: since, attempt: attempt + 1, awaiting: .backoff)
            return [.failPendingRequests, .closeSocket, .startTimer(.reconnect, after: delay(attempt + 1))]

        case (.connected, .serverEnded(let reason)), (.recovering, .serverEnded(let reason)), (.loggingIn, .serverEnded(let reason)):
            return abort(reason)
        case (.idle, .logoutRequested):
            return []
        case (_, .logoutRequested):
            phase = .idle
            sessionID = nil
            return [.cancelTimer(.loginTimeout), .cancelTimer(.interrupted), .cancelTimer(.reconnect), .failPendingRequests,
                    .closeSocket, move(.disconnected, .logout)]
        default:
            return []
        }
    }

    /// Whether requests can be sent now.
    public var isConnected: Bool { phase == .connected }

    private func delay(_ attempt: Int) -> Duration {
        timings.backoff.isEmpty ? .seconds(1) : timings.backoff[min(attempt, timings.backoff.count - 1)]
    }

    private mutating func move(_ newState: ConnectionState, _ reason: ConnectionChangeReason) -> Action {
        state = newState
        return .notify(ConnectionStateChange(state: newState, reason: reason))
    }

    private mutating func fail(_ reason: ConnectionChangeReason) -> [Action] {
        phase = .idle
        sessionID = nil
        return [.cancelTimer(.loginTimeout), .failPendingRequests, .closeSocket, move(.disconnected, reason)]
    }

    private mutating func abort(_ reason: ConnectionChangeReason) -> [Action] {
        phase = .aborted
        sessionID = nil
        return [.cancelTimer(.loginTimeout), .cancelTimer(.interrupted), .cancelTimer(.reconnect), .failPendingRequests,
                .closeSocket, move(.aborted, reason)]
    }
}
