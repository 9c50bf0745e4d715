import Logging
import RTMCluster
import RTMClusterPostgres
import RTMCore
import RTMStorePostgres
import RTMTestSupport
import Synchronization
import Testing

/// Every ``Broker`` through one suite, in the shape of the store conformance suite: the semantics the
/// edges rely on, with sessions on two nodes of one service (a sender on one, a receiver on the
/// other). The in-process broker (``Router``) is one node seen twice; the cluster's broker runs two
/// nodes, each with its own bus, on one PostgreSQL database (the test command's throwaway server).
///
/// Across nodes an outcome shows once the bus has carried the change (milliseconds): the suite
/// waits for each (bounded) before it relies on it. On one node every outcome is immediate.
@Suite(.serialized) struct BrokerConformanceTests {
    enum Implementation: String, CaseIterable, CustomStringConvertible {
        case inProcess, cluster
        var description: String { rawValue }
    }

    /// Two nodes of one service on `clock`, and what stops them.
    final class Nodes: Sendable {
        let a: any Broker
        let b: any Broker
        private let tasks: Mutex<[Task<Void, Never>]>

        init(a: any Broker, b: any Broker, tasks: [Task<Void, Never>] = []) {
            self.a = a
            self.b = b
            self.tasks = Mutex(tasks)
        }

        func stop() { tasks.withLock { $0.forEach { $0.cancel() } } }
    }

    static func nodes(_ implementation: Implementation, clock: ManualClock) async throws -> Nodes {
        switch implementation {
        case .inProcess:
            let router = Router(clock: clock, encoder: CountingEncoder())
            return Nodes(a: router, b: router)
        case .cluster:
            let url = try await StoreBackend.freshPostgresDatabase()
            var brokers: [ClusterBroker] = []
            var tasks: [Task<Void, Never>] = []
            for name in ["node-a", "node-b"] {
                let store = try PostgresStore(url: url, logger: Logger(label: "rtm.test.\(name)"))
                let bus = PostgresBus(nodeID: name, store: store, logger: Logger(label: "rtm.test.bus.\(name)"))
                let broker = ClusterBroker(bus: bus, clock: clock, encoder: CountingEncoder(),
                                           logger: Logger(label: "rtm.test.cluster.\(name)"))
                tasks += [Task { await store.run() }, Task { try? await bus.run() }, Task { await broker.run() }]
                try await store.migrate()
                brokers.append(broker)
            }
            let nodes = Nodes(a: brokers[0], b: brokers[1], tasks: tasks)
            // Both listen: a login on each is seen by the other.
            for (here, there) in [(nodes.a, nodes.b), (nodes.b, nodes.a)] {
                let (probe, _) = login(here, "probe")
                #expect(await waitUntil { there.onlineStatus(of: [probe.userID], in: app) == [.online] }, "the nodes see each other")
                here.logout(probe)
                #expect(await waitUntil { there.onlineStatus(of: [probe.userID], in: app) == [.offline] })
            }
            return nodes
        }
    }

    static let app = AppID("970CA35de60c44645bbae8a215061b33")!
    static let otherApp = AppID("0123456789abcdef0123456789abcdef")!
    static let room = ChannelName("room")!

    /// Logs `user` in on `node`.
    static func login(_ node: any Broker, _ user: String, app: AppID = app) -> (RouterSession, RecordingSink) {
        let sink = RecordingSink()
        let session = RouterSession(appID: app, userID: UserID(user)!, sessionID: "s-\(user)-\(app.rawValue.prefix(4))-\(UInt32.random(in: 0 ... .max))",
                                    sink: sink)
        node.login(session)
        return (session, sink)
    }

    /// Logs `user` in on `node` and waits until `observer` sees it online.
    static func loginSeen(_ node: any Broker, _ user: String, by observer: any Broker, app: AppID = app) async -> (RouterSession, RecordingSink) {
        let (session, sink) = login(node, user, app: app)
        #expect(await waitUntil { observer.onlineStatus(of: [session.userID], in: app) == [.online] }, "\(user) seen online")
        return (session, sink)
    }

    static func message(_ from: String, _ to: String, _ text: String, app: AppID = app) -> PeerMessage {
        PeerMessage(appID: app, from: UserID(from)!, to: UserID(to)!, content: .text(text))
    }

    static func received(_ sink: RecordingSink, _ text: String) async -> Bool {
        await waitUntil { sink.texts.contains { $0.contains(text) } }
    }

    @Test(arguments: Implementation.allCases)
    func peerMessagesReachTheReceiverWhereverItIs(_ implementation: Implementation) async throws {
        let nodes = try await Self.nodes(implementation, clock: ManualClock())
        defer { nodes.stop() }
        let (a, b) = (nodes.a, nodes.b)
        let (_, bobSink) = await Self.loginSeen(b, "bob", by: a)
        let (_, otherBobSink) = await Self.loginSeen(b, "bob", by: a, app: Self.otherApp)
        guard case .handedOff = a.sendPeer(Self.message("alice", "bob", "hello"), wantAck: false) else {
            Issue.record("an online receiver's message is handed off")
            return
        }
        #expect(await Self.received(bobSink, "hello"))
        #expect(!otherBobSink.texts.contains { $0.contains("hello") }, "nothing crosses apps")
        if case .offline = a.sendPeer(Self.message("alice", "nobody", "lost"), wantAck: false) {} else {
            Issue.record("a receiver logged in nowhere is offline")
        }
        #expect(a.onlineStatus(of: [UserID("bob")!, UserID("nobody")!], in: Self.app) == [.online, .offline])
    }

    @Test(arguments: Implementation.allCases)
    func onlyTheReceiversAckEndsTheSendersWait(_ implementation: Implementation) async throws {
        let clock = ManualClock()
        let nodes = try await Self.nodes(implementation, clock: clock)
        defer { nodes.stop() }
        let (a, b) = (nodes.a, nodes.b)
        let (bob, bobSink) = await Self.loginSeen(b, "bob", by: a)
        let (eve, _) = await Self.loginSeen(b, "eve", by: a)
        let acked = a.sendPeer(Self.message("alice", "bob", "one"), wantAck: true)
        #expect(await Self.received(bobSink, "one"))
        b.ack(messageID: acked.messageID, from: eve)   // not the receiver: ignored
        b.ack(messageID: acked.messageID, from: bob)
        #expect(await a.awaitAck(messageID: acked.messageID, timeout: .seconds(10)))

        let abandoned = a.sendPeer(Self.message("alice", "bob", "two"), wantAck: true)
        #expect(await Self.received(bobSink, "two"))
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
    func channelsSpanNodes(_ implementation: Implementation) async throws {
        let nodes = try await Self.nodes(implementation, clock: ManualClock())
        defer { nodes.stop() }
        let (a, b) = (nodes.a, nodes.b)
        let (alice, aliceSink) = await Self.loginSeen(a, "alice", by: b)
        let (bob, bobSink) = await Self.loginSeen(b, "bob", by: a)
        #expect(a.join(alice, channel: Self.room) == .joined(memberCount: 1))
        #expect(await waitUntil { b.memberCounts(of: [Self.room], in: Self.app) == [Self.room: 1] })
        #expect(b.join(bob, channel: Self.room) == .joined(memberCount: 2))
        #expect(await waitUntil { aliceSink.texts.contains { $0.contains("memberJoined") && $0.contains("bob") } })
        #expect(a.memberCounts(of: [Self.room], in: Self.app) == [Self.room: 2])
        #expect(Set(a.members(of: Self.room, for: alice) ?? []) == [UserID("alice")!, UserID("bob")!])
        #expect(a.isMember(alice, of: Self.room) && !b.isMember(bob, of: ChannelName("elsewhere")!))

        let sent = a.sendChannel(app: Self.app, channel: Self.room, from: alice.userID, content: .text("to all"))
        #expect(sent.receivers == 1)
        #expect(await Self.received(bobSink, "to all"))
        #expect(!aliceSink.texts.contains { $0.contains("to all") }, "every member but the sender")
        #expect(b.leave(bob, channel: Self.room) == .left && b.leave(bob, channel: Self.room) == .notInChannel)
        #expect(await waitUntil { aliceSink.texts.contains { $0.contains("memberLeft") && $0.contains("bob") } })
        b.logout(bob)
        #expect(b.join(bob, channel: Self.room) == .notLoggedIn)
    }

    @Test(arguments: Implementation.allCases)
    func watchersSeePresenceWhereverTheUserLogsIn(_ implementation: Implementation) async throws {
        let nodes = try await Self.nodes(implementation, clock: ManualClock())
        defer { nodes.stop() }
        let (a, b) = (nodes.a, nodes.b)
        let (watcher, watcherSink) = Self.login(a, "watcher")
        var replied = false
        #expect(a.subscribe(watcher, to: [UserID("carol")!]) { replied = true } == .subscribed)
        #expect(replied && watcherSink.texts.last?.contains("offline") == true, "the reply, then the current state")
        let (carol, _) = Self.login(b, "carol")
        #expect(await waitUntil { watcherSink.texts.last?.contains("online") == true })
        b.logout(carol)
        #expect(await waitUntil { watcherSink.texts.last?.contains("offline") == true })
        #expect(a.unsubscribe(watcher, from: [UserID("carol")!]) == .subscribed)
        let count = watcherSink.texts.count
        _ = await Self.loginSeen(b, "carol", by: a)
        #expect(watcherSink.texts.count == count, "no longer watched")
    }

    @Test(arguments: Implementation.allCases)
    func aLoginElsewhereEndsTheOlderSession(_ implementation: Implementation) async throws {
        let nodes = try await Self.nodes(implementation, clock: ManualClock())
        defer { nodes.stop() }
        let (a, b) = (nodes.a, nodes.b)
        let (first, firstSink) = await Self.loginSeen(a, "dave", by: b)
        _ = a.join(first, channel: Self.room)
        #expect(await waitUntil { b.memberCounts(of: [Self.room], in: Self.app) == [Self.room: 1] })
        let (second, _) = Self.login(b, "dave")
        #expect(await waitUntil { firstSink.terminations.withLock { $0 } == [.remoteLogin] })
        #expect(!a.isCurrent(first) && b.isCurrent(second))
        #expect(await waitUntil {
            a.memberCounts(of: [Self.room], in: Self.app) == [Self.room: 0] && b.memberCounts(of: [Self.room], in: Self.app) == [Self.room: 0]
        }, "the older session left its channels")
        #expect(a.onlineStatus(of: [second.userID], in: Self.app) == [.online], "online all along, on the other node now")
    }

    @Test(arguments: Implementation.allCases)
    func userAttributesAreReadAcrossNodes(_ implementation: Implementation) async throws {
        let nodes = try await Self.nodes(implementation, clock: ManualClock())
        defer { nodes.stop() }
        let (a, b) = (nodes.a, nodes.b)
        let (erin, _) = await Self.loginSeen(b, "erin", by: a)
        #expect(b.writeUserAttributes(erin, .replaceAll([AttributeEntry(key: "mood", value: "fine"), AttributeEntry(key: "a", value: "1")])) == .ok)
        #expect(await waitUntil { a.userAttributes(of: erin.userID, in: Self.app, keys: nil)?.map(\.value) == ["1", "fine"] })
        #expect(a.userAttributes(of: erin.userID, in: Self.app, keys: ["mood"])?.map(\.value) == ["fine"])
        #expect(a.userAttributes(of: UserID("nobody")!, in: Self.app, keys: nil) == nil)
        b.logout(erin)
        #expect(await waitUntil { a.userAttributes(of: erin.userID, in: Self.app, keys: nil) == nil }, "cleared with the session")
    }

    @Test(arguments: Implementation.allCases)
    func channelAttributesAreReadAndNotifiedAcrossNodes(_ implementation: Implementation) async throws {
        let nodes = try await Self.nodes(implementation, clock: ManualClock())
        defer { nodes.stop() }
        let (a, b) = (nodes.a, nodes.b)
        let (erin, erinSink) = await Self.loginSeen(b, "erin", by: a)
        _ = b.join(erin, channel: Self.room)
        #expect(a.writeChannelAttributes(app: Self.app, channel: Self.room, by: UserID("admin")!,
                                         .addOrUpdate([AttributeEntry(key: "topic", value: "news")]), notify: true) == .ok)
        #expect(await waitUntil { erinSink.texts.last?.contains("channelAttributesUpdated") == true })
        #expect(b.channelAttributes(of: Self.room, in: Self.app, keys: nil).map(\.value) == ["news"])
        #expect(b.channelAttributes(of: Self.room, in: Self.app, keys: nil).first?.lastUpdateUserID == UserID("admin"))
    }

    @Test(arguments: Implementation.allCases)
    func aDroppedSessionIsUnreachableThenOffline(_ implementation: Implementation) async throws {
        let clock = ManualClock()
        let nodes = try await Self.nodes(implementation, clock: clock)
        defer { nodes.stop() }
        let (a, b) = (nodes.a, nodes.b)
        let (watcher, watcherSink) = Self.login(a, "watcher")
        let (frank, _) = await Self.loginSeen(b, "frank", by: a)
        _ = a.subscribe(watcher, to: [frank.userID]) {}
        b.detach(frank)
        clock.advance(by: b.graceLimits.unreachableAfter)
        #expect(await waitUntil { watcherSink.texts.last?.contains("unreachable") == true })
        #expect(b.reattach(frank))
        #expect(await waitUntil { watcherSink.texts.last?.contains("online") == true })
        b.detach(frank)
        clock.advance(by: b.graceLimits.gracePeriod)
        #expect(await waitUntil { watcherSink.texts.last?.contains("offline") == true })
        #expect(await waitUntil { !b.isCurrent(frank) && a.onlineStatus(of: [frank.userID], in: Self.app) == [.offline] })
    }
}
