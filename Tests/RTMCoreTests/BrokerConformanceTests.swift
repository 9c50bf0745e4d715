import RTMCore
import RTMTestSupport
import Synchronization
import Testing

/// Every ``Broker`` through one suite, in the shape of the store conformance suite: the semantics the
/// edges rely on, with sessions on two nodes of one service (a sender on one, a receiver on the
/// other). The in-process broker (``Router``) is one node seen twice; the cluster's broker joins
/// `Implementation` with two nodes on one database.
@Suite struct BrokerConformanceTests {
    enum Implementation: String, CaseIterable, CustomStringConvertible {
        case inProcess
        var description: String { rawValue }
    }

    /// Two nodes of one service on `clock`.
    static func nodes(_ implementation: Implementation, clock: ManualClock) -> (any Broker, any Broker) {
        switch implementation {
        case .inProcess:
            let router = Router(clock: clock, encoder: RouterTests.CountingEncoder())
            return (router, router)
        }
    }

    static let app = AppID("970CA35de60c44645bbae8a215061b33")!
    static let otherApp = AppID("0123456789abcdef0123456789abcdef")!
    static let room = ChannelName("room")!

    /// Logs `user` in on `node`.
    static func login(_ node: any Broker, _ user: String, app: AppID = app) -> (RouterSession, RecordingSink) {
        let sink = RecordingSink()
        let session = RouterSession(appID: app, userID: UserID(user)!, sessionID: "s-\(user)-\(app.rawValue.prefix(4))", sink: sink)
        node.login(session)
        return (session, sink)
    }

    static func message(_ from: String, _ to: String, _ text: String, app: AppID = app) -> PeerMessage {
        PeerMessage(appID: app, from: UserID(from)!, to: UserID(to)!, content: .text(text))
    }

    @Test(arguments: Implementation.allCases)
    func peerMessagesReachTheReceiverWhereverItIs(_ implementation: Implementation) {
        let (a, b) = Self.nodes(implementation, clock: ManualClock())
        let (_, bobSink) = Self.login(b, "bob")
        let (_, otherBobSink) = Self.login(b, "bob", app: Self.otherApp)
        guard case .handedOff = a.sendPeer(Self.message("alice", "bob", "hello"), wantAck: false) else {
            Issue.record("an online receiver's message is handed off")
            return
        }
        #expect(bobSink.texts.contains { $0.contains("hello") })
        #expect(!otherBobSink.texts.contains { $0.contains("hello") }, "nothing crosses apps")
        if case .offline = a.sendPeer(Self.message("alice", "nobody", "lost"), wantAck: false) {} else {
            Issue.record("a receiver logged in nowhere is offline")
        }
        #expect(a.onlineStatus(of: [UserID("bob")!, UserID("nobody")!], in: Self.app) == [.online, .offline])
    }

    @Test(arguments: Implementation.allCases)
    func onlyTheReceiversAckEndsTheSendersWait(_ implementation: Implementation) async {
        let clock = ManualClock()
        let (a, b) = Self.nodes(implementation, clock: clock)
        let (bob, _) = Self.login(b, "bob")
        let (eve, _) = Self.login(b, "eve")
        let acked = a.sendPeer(Self.message("alice", "bob", "one"), wantAck: true)
        b.ack(messageID: acked.messageID, from: eve)   // not the receiver: ignored
        b.ack(messageID: acked.messageID, from: bob)
        #expect(await a.awaitAck(messageID: acked.messageID, timeout: .seconds(10)))

        let abandoned = a.sendPeer(Self.message("alice", "bob", "two"), wantAck: true)
        b.abandonAck(messageID: abandoned.messageID)
        #expect(await a.awaitAck(messageID: abandoned.messageID, timeout: .seconds(10)) == false)

        let unanswered = a.sendPeer(Self.message("alice", "bob", "three"), wantAck: true)
        let outcome = Mutex<Bool?>(nil)
        let waiter = Task {
            let acked = await a.awaitAck(messageID: unanswered.messageID, timeout: .seconds(10))
            outcome.withLock { $0 = acked }
        }
        // The clock moves until the wait ends (its timer may start after a first move).
        #expect(await waitUntil { clock.advance(by: .seconds(11)); return outcome.withLock { $0 } != nil })
        await waiter.value
        #expect(outcome.withLock { $0 } == false, "no ack within the timeout")
    }

    @Test(arguments: Implementation.allCases)
    func channelsSpanNodes(_ implementation: Implementation) {
        let (a, b) = Self.nodes(implementation, clock: ManualClock())
        let (alice, aliceSink) = Self.login(a, "alice")
        let (bob, bobSink) = Self.login(b, "bob")
        #expect(a.join(alice, channel: Self.room) == .joined(memberCount: 1))
        #expect(b.join(bob, channel: Self.room) == .joined(memberCount: 2))
        #expect(aliceSink.texts.contains { $0.contains("memberJoined") && $0.contains("bob") })
        #expect(a.memberCounts(of: [Self.room], in: Self.app) == [Self.room: 2])
        #expect(Set(a.members(of: Self.room, for: alice) ?? []) == [UserID("alice")!, UserID("bob")!])
        #expect(a.isMember(alice, of: Self.room) && !b.isMember(bob, of: ChannelName("elsewhere")!))

        let sent = a.sendChannel(app: Self.app, channel: Self.room, from: alice.userID, content: .text("to all"))
        #expect(sent.receivers == 1)
        #expect(bobSink.texts.contains { $0.contains("to all") } && !aliceSink.texts.contains { $0.contains("to all") },
                "every member but the sender")
        #expect(b.leave(bob, channel: Self.room) == .left && b.leave(bob, channel: Self.room) == .notInChannel)
        #expect(aliceSink.texts.contains { $0.contains("memberLeft") && $0.contains("bob") })
        b.logout(bob)
        #expect(b.join(bob, channel: Self.room) == .notLoggedIn)
    }

    @Test(arguments: Implementation.allCases)
    func watchersSeePresenceWhereverTheUserLogsIn(_ implementation: Implementation) {
        let (a, b) = Self.nodes(implementation, clock: ManualClock())
        let (watcher, watcherSink) = Self.login(a, "watcher")
        var replied = false
        #expect(a.subscribe(watcher, to: [UserID("carol")!]) { replied = true } == .subscribed)
        #expect(replied && watcherSink.texts.last?.contains("offline") == true, "the reply, then the current state")
        let (carol, _) = Self.login(b, "carol")
        #expect(watcherSink.texts.last?.contains("online") == true)
        b.logout(carol)
        #expect(watcherSink.texts.last?.contains("offline") == true)
        #expect(a.unsubscribe(watcher, from: [UserID("carol")!]) == .subscribed)
        let count = watcherSink.texts.count
        _ = Self.login(b, "carol")
        #expect(watcherSink.texts.count == count, "no longer watched")
    }

    @Test(arguments: Implementation.allCases)
    func aLoginElsewhereEndsTheOlderSession(_ implementation: Implementation) {
        let (a, b) = Self.nodes(implementation, clock: ManualClock())
        let (first, firstSink) = Self.login(a, "dave")
        _ = a.join(first, channel: Self.room)
        let (second, _) = Self.login(b, "dave")
        #expect(firstSink.terminations.withLock { $0 } == [.remoteLogin])
        #expect(!a.isCurrent(first) && b.isCurrent(second))
        #expect(a.memberCounts(of: [Self.room], in: Self.app) == [Self.room: 0], "the older session left its channels")
    }

    @Test(arguments: Implementation.allCases)
    func attributesAreReadAndNotifiedAcrossNodes(_ implementation: Implementation) {
        let (a, b) = Self.nodes(implementation, clock: ManualClock())
        let (erin, erinSink) = Self.login(b, "erin")
        #expect(b.writeUserAttributes(erin, .replaceAll([AttributeEntry(key: "mood", value: "fine")])) == .ok)
        #expect(a.userAttributes(of: erin.userID, in: Self.app, keys: nil)?.map(\.value) == ["fine"])
        #expect(a.userAttributes(of: UserID("nobody")!, in: Self.app, keys: nil) == nil)
        _ = b.join(erin, channel: Self.room)
        #expect(a.writeChannelAttributes(app: Self.app, channel: Self.room, by: UserID("admin")!,
                                         .addOrUpdate([AttributeEntry(key: "topic", value: "news")]), notify: true) == .ok)
        #expect(erinSink.texts.last?.contains("channelAttributesUpdated") == true)
        #expect(b.channelAttributes(of: Self.room, in: Self.app, keys: nil).map(\.value) == ["news"])
        b.logout(erin)
        #expect(a.userAttributes(of: erin.userID, in: Self.app, keys: nil) == nil, "cleared with the session")
    }

    @Test(arguments: Implementation.allCases)
    func aDroppedSessionIsUnreachableThenOffline(_ implementation: Implementation) async {
        let clock = ManualClock()
        let (a, b) = Self.nodes(implementation, clock: clock)
        let (watcher, watcherSink) = Self.login(a, "watcher")
        let (frank, _) = Self.login(b, "frank")
        _ = a.subscribe(watcher, to: [frank.userID]) {}
        b.detach(frank)
        clock.advance(by: b.graceLimits.unreachableAfter)
        #expect(await waitUntil { watcherSink.texts.last?.contains("unreachable") == true })
        #expect(b.reattach(frank))
        #expect(watcherSink.texts.last?.contains("online") == true)
        b.detach(frank)
        clock.advance(by: b.graceLimits.gracePeriod)
        #expect(await waitUntil { watcherSink.texts.last?.contains("offline") == true })
        #expect(!b.isCurrent(frank) && a.onlineStatus(of: [frank.userID], in: Self.app) == [.offline])
    }
}
