import RTMClient
import RTMProtocol
import Testing

/// The client's connection logic, without I/O: a simulated clock fires the timers the machine asks for.
@Suite struct ConnectionStateMachineTests {
    /// Drives a machine with a manual clock: keeps the timers it starts and fires them when time passes.
    struct Harness {
        var machine = ConnectionStateMachine()
        var now: Int64 = 0
        var timers: [ConnectionStateMachine.Timer: Int64] = [:]
        var notifications: [ConnectionStateChange] = []
        var actions: [ConnectionStateMachine.Action] = []

        mutating func send(_ input: ConnectionStateMachine.Input) {
            for action in machine.handle(input) {
                actions.append(action)
                switch action {
                case .startTimer(let timer, let delay): timers[timer] = now + delay.components.seconds * 1000
                    + delay.components.attoseconds / 1_000_000_000_000_000
                case .cancelTimer(let timer): timers.removeValue(forKey: timer)
                case .notify(let change): notifications.append(change)
                default: break
                }
            }
        }

        /// Advances the clock, firing due timers in deadline order.
        mutating func advance(by duration: Duration) {
            let target = now + duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
            while let (timer, deadline) = timers.filter({ $0.value <= target }).min(by: { $0.value < $1.value }) {
                now = deadline
                timers.removeValue(forKey: timer)
                send(.timerFired(timer))
            }
            now = target
        }

        mutating func takeActions() -> [ConnectionStateMachine.Action] {
            defer { actions = [] }
            return actions
        }

        mutating func loggedIn() {
            send(.loginRequested)
            send(.socketOpened)
            send(.loginSucceeded(sessionID: "s-1"))
            _ = takeActions()
            notifications = []
        }
    }

    static func change(_ state: ConnectionState, _ reason: ConnectionChangeReason) -> ConnectionStateChange {
        ConnectionStateChange(state: state, reason: reason)
    }

    @Test func loginSucceeds() {
        var harness = Harness()
        harness.send(.loginRequested)
        #expect(harness.takeActions() == [.notify(Self.change(.connecting, .login)), .openSocket,
                                          .startTimer(.loginTimeout, after: .seconds(6))])
        harness.send(.socketOpened)
        #expect(harness.takeActions() == [.sendLogin])
        harness.send(.loginSucceeded(sessionID: "s-1"))
        #expect(harness.machine.state == .connected && harness.machine.sessionID == "s-1")
        #expect(harness.notifications.last == Self.change(.connected, .loginSuccess))
        harness.advance(by: .seconds(10))
        #expect(harness.machine.state == .connected, "the login timer was cancelled")
    }

    @Test func loginRejectedOrTimedOut() {
        var rejected = Harness()
        rejected.send(.loginRequested)
        rejected.send(.socketOpened)
        rejected.send(.loginFailed(.invalidToken))
        #expect(rejected.notifications.last == Self.change(.disconnected, .loginFailure))
        #expect(rejected.actions.contains(.closeSocket))

        var slow = Harness()
        slow.send(.loginRequested)
        slow.advance(by: .milliseconds(5_999))
        #expect(slow.machine.state == .connecting)
        slow.advance(by: .milliseconds(1))
        #expect(slow.notifications.last == Self.change(.disconnected, .loginTimeout))

        var unreachable = Harness()
        unreachable.send(.loginRequested)
        unreachable.send(.socketFailed(nowMilliseconds: 0))
        #expect(unreachable.notifications.last == Self.change(.disconnected, .loginFailure))
    }

    @Test func shortDropResumesWithoutAnyStateChange() {
        var harness = Harness()
        harness.loggedIn()
        harness.send(.socketFailed(nowMilliseconds: harness.now))
        #expect(harness.takeActions() == [.failPendingRequests, .startTimer(.interrupted, after: .seconds(4)),
                                          .startTimer(.reconnect, after: .zero)])
        harness.advance(by: .zero)
        #expect(harness.takeActions() == [.openSocket])
        harness.send(.socketOpened)
        #expect(harness.takeActions() == [.sendResume(sessionID: "s-1")])
        harness.send(.resumeSucceeded)
        harness.advance(by: .seconds(10))
        #expect(harness.notifications.isEmpty, "under 4 s the app sees no change")
        #expect(harness.machine.state == .connected)
    }

    @Test func dropLongerThanFourSecondsReportsReconnectingThenConnected() {
        var harness = Harness()
        harness.loggedIn()
        harness.send(.socketFailed(nowMilliseconds: 0))
        harness.advance(by: .zero)
        harness.send(.socketFailed(nowMilliseconds: harness.now))   // the first attempt fails
        #expect(harness.actions.contains(.startTimer(.reconnect, after: .milliseconds(500))))
        harness.advance(by: .seconds(4))
        #expect(harness.notifications == [Self.change(.reconnecting, .interrupted)])
        #expect(harness.actions.filter { $0 == .openSocket }.count == 2, "retried after the backoff")
        harness.send(.socketOpened)
        harness.send(.resumeSucceeded)
        #expect(harness.notifications.last == Self.change(.connected, .loginSuccess))
    }

    @Test func backoffGrowsAndRepeatsItsLastStep() {
        var harness = Harness()
        harness.loggedIn()
        harness.send(.socketFailed(nowMilliseconds: 0))
        var delays: [Duration] = []
        for _ in 0..<8 {
            _ = harness.takeActions()
            harness.advance(by: .seconds(60))
            harness.send(.socketFailed(nowMilliseconds: harness.now))
            for case .startTimer(.reconnect, let delay) in harness.actions { delays.append(delay) }
        }
        #expect(delays == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8), .seconds(8)])
    }

    @Test func expiredSessionLogsInAgainAndRestores() {
        var harness = Harness()
        harness.loggedIn()
        harness.send(.socketFailed(nowMilliseconds: 0))
        harness.advance(by: .zero)
        harness.send(.socketOpened)
        harness.send(.resumeRejected)
        #expect(harness.actions.last == .sendLogin)
        harness.send(.loginSucceeded(sessionID: "s-2"))
        #expect(harness.actions.last == .restoreSession)
        #expect(harness.machine.sessionID == "s-2" && harness.machine.state == .connected)
    }

    @Test func remoteLoginAndTokenExpiryAbortWithoutReconnecting() {
        for reason in [ConnectionChangeReason.remoteLogin, .tokenExpired, .bannedByServer] {
            var harness = Harness()
            harness.loggedIn()
            harness.send(.serverEnded(reason))
            #expect(harness.notifications == [Self.change(.aborted, reason)])
            harness.send(.socketFailed(nowMilliseconds: 0))
            harness.advance(by: .seconds(120))
            #expect(!harness.actions.contains(.openSocket), "ABORTED never reconnects")
            harness.send(.loginRequested)
            #expect(harness.machine.state == .aborted, "login needs a logout first")
            harness.send(.logoutRequested)
            #expect(harness.notifications.last == Self.change(.disconnected, .logout))
        }
        var reconnecting = Harness()
        reconnecting.loggedIn()
        reconnecting.send(.socketFailed(nowMilliseconds: 0))
        reconnecting.advance(by: .zero)
        reconnecting.send(.socketOpened)
        reconnecting.send(.resumeRejected)
        reconnecting.send(.loginFailed(.tokenExpired))
        #expect(reconnecting.notifications.last == Self.change(.aborted, .tokenExpired))
    }

    @Test func serverShutdownReconnectsAtOnce() {
        var harness = Harness()
        harness.loggedIn()
        harness.send(.serverShuttingDown(nowMilliseconds: 0))
        #expect(harness.notifications == [Self.change(.reconnecting, .interrupted)])
        harness.advance(by: .zero)
        #expect(harness.actions.contains(.openSocket))
    }

    @Test func logoutFromAnyStateDisconnects() {
        var connected = Harness()
        connected.loggedIn()
        connected.send(.logoutRequested)
        #expect(connected.notifications == [Self.change(.disconnected, .logout)])
        var reconnecting = Harness()
        reconnecting.loggedIn()
        reconnecting.send(.socketFailed(nowMilliseconds: 0))
        reconnecting.advance(by: .seconds(5))
        reconnecting.send(.logoutRequested)
        #expect(reconnecting.notifications.last == Self.change(.disconnected, .logout))
        reconnecting.advance(by: .seconds(60))
        #expect(reconnecting.machine.state == .disconnected)
        var idle = Harness()
        idle.send(.logoutRequested)
        #expect(idle.actions.isEmpty)
    }
}
