import RTMCluster
import RTMCore
import RTMTestSupport
import Synchronization
import Testing

/// What only a cluster has: a session moving between two live nodes, and offline messages stored on
/// a node that does not know where their receiver is. Two brokers on one PostgreSQL database, as in
/// ``BrokerConformanceTests``.
@Suite(.serialized) struct ClusterTakeoverTests {
    static let app = BrokerConformanceTests.app
    static let room = BrokerConformanceTests.room

    /// The client of a session on node b resumes on node a (it only changed node): a takes the
    /// session over from its view, b ends its copy with no word to anyone (close 1000, no
    /// `member_left`, no OFFLINE), and both nodes see the user online and in its channel, on a now.
    @Test func aSessionResumedOnAnotherLiveNodeMovesWithoutAWord() async throws {
        let nodes = try await BrokerConformanceTests.nodes(.cluster, clock: ManualClock())
        defer { nodes.stop() }
        let (a, b) = (nodes.a, nodes.b)
        let (watcher, watcherSink) = BrokerConformanceTests.login(b, "watcher")
        _ = b.join(watcher, channel: Self.room)
        let (erin, erinSink) = await BrokerConformanceTests.loginSeen(b, "erin", by: a)
        _ = b.join(erin, channel: Self.room)
        _ = b.subscribe(watcher, to: [erin.userID]) {}
        #expect(await waitUntil { a.memberCounts(of: [Self.room], in: Self.app) == [Self.room: 2] })
        let watcherTexts = watcherSink.texts.count

        let orphan = try #require(a.takeOver(sessionID: erin.sessionID), "a knows b's session")
        #expect(orphan.channels == [Self.room] && orphan.othersStillSeeIt)
        let resumed = RouterSession(appID: Self.app, userID: erin.userID, sessionID: erin.sessionID, sink: RecordingSink())
        a.restore(resumed, from: orphan)

        #expect(await waitUntil { erinSink.terminations.withLock { $0 } == [.resumedElsewhere] }, "b ended its copy")
        #expect(!b.isCurrent(erin) && a.isCurrent(resumed))
        #expect(await waitUntil { b.members(of: Self.room, for: watcher)?.sorted { $0.rawValue < $1.rawValue } == [erin.userID, watcher.userID] },
                "b counts erin in the room, on a now")
        #expect(b.onlineStatus(of: [erin.userID], in: Self.app) == [.online])
        #expect(a.memberCounts(of: [Self.room], in: Self.app) == [Self.room: 2])
        #expect(watcherSink.texts.count == watcherTexts, "the watcher was told nothing: \(watcherSink.texts.suffix(2))")
        // Later changes of the moved session reach b's watcher from a.
        a.logout(resumed)
        #expect(await waitUntil { b.onlineStatus(of: [erin.userID], in: Self.app) == [.offline] })
        #expect(await waitUntil { watcherSink.texts.count > watcherTexts }, "then it hears erin leave")
    }

    /// Node a stores messages for erin, whom it does not know online (she logged in on b and a has
    /// not heard yet, or a is stopping, or just started): it tells the others, and b, which holds
    /// her session, delivers them from the store.
    @Test func messagesStoredWhereTheReceiverIsUnknownAreDeliveredByItsNode() async throws {
        let nodes = try await BrokerConformanceTests.nodes(.cluster, clock: ManualClock())
        defer { nodes.stop() }
        let (a, b) = (nodes.a, nodes.b)
        let asked = Mutex<[String]>([])
        b.whenMessagesStoredElsewhere { session in asked.withLock { $0.append(session.sessionID) } }
        let (erin, _) = await BrokerConformanceTests.loginSeen(b, "erin", by: a)
        a.messagesStored(for: erin.userID, in: Self.app)
        #expect(await waitUntil { asked.withLock { $0 } == [erin.sessionID] }, "b delivers erin's stored messages")
        a.messagesStored(for: UserID("nobody")!, in: Self.app)
        let (probe, _) = await BrokerConformanceTests.loginSeen(a, "probe", by: b)   // the bus carried a's event before this one
        #expect(asked.withLock { $0 } == [erin.sessionID], "nobody holds the other user")
        a.logout(probe)
    }
}
