import NIOCore
import RTMCore
import RTMTestSupport
import Synchronization
import Testing

/// The router with a fake transport: encoding once, app isolation, membership and acks.
@Suite struct RouterTests {
    static let appA = AppID("970CA35de60c44645bbae8a215061b33")!
    static let appB = AppID("0123456789abcdef0123456789abcdef")!

    func session(_ router: Router, _ app: AppID, _ user: String) -> (RouterSession, RecordingSink) {
        let sink = RecordingSink()
        let session = RouterSession(appID: app, userID: UserID(user)!, sessionID: "s-\(user)", sink: sink)
        router.login(session)
        return (session, sink)
    }

    @Test func fanOutEncodesOnceAndSkipsTheSender() {
        let encoder = CountingEncoder()
        let router = Router(clock: ManualClock(), encoder: encoder)
        let channel = ChannelName("room")!
        let members = (0..<50).map { session(router, Self.appA, "u\($0)") }
        for (member, _) in members { _ = router.join(member, channel: channel) }
        let before = encoder.count.load(ordering: .relaxed)
        let result = router.sendChannel(app: Self.appA, channel: channel, from: UserID("u0")!, content: .text("hi"))
        #expect(encoder.count.load(ordering: .relaxed) - before == 1)
        #expect(result.receivers == 49)
        let shared = members[1].1.received.withLock { $0.last }
        for (_, sink) in members.dropFirst() { #expect(sink.received.withLock { $0.last } == shared) }
        #expect(!members[0].1.texts.contains { $0.contains("channelMessage") })
    }

    /// A shutdown ends every session, each logged out as the gateway does when it terminates one:
    /// the sessions still open are not told that the ones before them left or went offline (in a
    /// cluster the users did not: they resume on another node).
    @Test func terminateAllTellsNoSessionOfTheOthersLeaving() {
        let router = Router(clock: ManualClock(), encoder: CountingEncoder())
        let room = ChannelName("room")!
        let members = (0..<3).map { session(router, Self.appA, "m\($0)") }
        for (member, sink) in members {
            _ = router.join(member, channel: room)
            sink.whenTerminated.withLock { $0 = { _ in router.logout(member) } }
        }
        _ = router.subscribe(members[2].0, to: [UserID("m0")!, UserID("m1")!]) {}
        let before = members.map { $0.1.texts.count }
        router.terminateAll(.serverShutdown)
        for (index, (_, sink)) in members.enumerated() {
            #expect(sink.terminations.withLock { $0 } == [.serverShutdown])
            #expect(sink.texts.count == before[index], "m\(index) was told nothing more")
        }
        #expect(router.sessionCount == 0)
        // Outside a shutdown, a logout is announced as ever.
        let (watcher, watcherSink) = session(router, Self.appA, "watcher")
        let (leaver, _) = session(router, Self.appA, "leaver")
        _ = router.join(watcher, channel: room)
        _ = router.join(leaver, channel: room)
        let count = watcherSink.texts.count
        router.logout(leaver)
        #expect(watcherSink.texts.count > count, "member_left")
    }

    @Test func nothingCrossesApps() {
        let router = Router(clock: ManualClock(), encoder: CountingEncoder())
        let channel = ChannelName("room")!
        let (bobA, sinkA) = session(router, Self.appA, "bob")
        let (bobB, sinkB) = session(router, Self.appB, "bob")
        _ = router.join(bobA, channel: channel)
        _ = router.join(bobB, channel: channel)
        _ = router.sendChannel(app: Self.appA, channel: channel, from: UserID("x")!, content: .text("for A"))
        let dispatch = router.sendPeer(PeerMessage(appID: Self.appB, from: UserID("x")!, to: UserID("bob")!, content: .text("for B")),
                                       wantAck: false)
        #expect(sinkA.texts.contains { $0.contains("for A") } && !sinkA.texts.contains { $0.contains("for B") })
        #expect(sinkB.texts.contains { $0.contains("for B") } && !sinkB.texts.contains { $0.contains("for A") })
        if case .handedOff = dispatch {} else { Issue.record("expected hand-off") }
        // Same user id in two apps: neither login kicks the other.
        #expect(sinkA.terminations.withLock { $0 }.isEmpty && sinkB.terminations.withLock { $0 }.isEmpty)
        #expect(router.memberCounts(of: [channel], in: Self.appA) == [channel: 1])
    }

    /// Past the bound of open acknowledgement slots a message is still delivered and its sender's wait
    /// ends at once, unconfirmed; the slots already open are untouched.
    @Test func ackSlotsAreBounded() async {
        var limits = RouterLimits()
        limits.maximumPendingAcks = 1
        let router = Router(clock: ManualClock(), encoder: CountingEncoder(), limits: limits)
        let (receiver, sink) = session(router, Self.appA, "rx")
        let message = PeerMessage(appID: Self.appA, from: UserID("tx")!, to: UserID("rx")!, content: .text("m"))
        let first = router.sendPeer(message, wantAck: true)
        let second = router.sendPeer(message, wantAck: true)
        #expect(router.pendingAckCount == 1 && sink.texts.filter { $0.contains("peerMessage") }.count == 2, "both delivered, one slot")
        #expect(await router.awaitAck(messageID: second.messageID, timeout: .seconds(3600)) == false, "no slot: unconfirmed at once")
        router.ack(messageID: first.messageID, from: receiver)
        #expect(await router.awaitAck(messageID: first.messageID, timeout: .seconds(3600)))
        #expect(router.pendingAckCount == 0)
    }

    @Test func ackOnlyFromTheReceiverAndTimeoutOnTheClock() async {
        let clock = ManualClock()
        let router = Router(clock: clock, encoder: CountingEncoder())
        let (receiver, _) = session(router, Self.appA, "rx")
        let (other, _) = session(router, Self.appA, "other")
        let message = PeerMessage(appID: Self.appA, from: UserID("tx")!, to: UserID("rx")!, content: .text("m"))
        let first = router.sendPeer(message, wantAck: true)
        router.ack(messageID: first.messageID, from: other)      // ignored: not the receiver
        router.ack(messageID: first.messageID, from: receiver)   // early ack is kept
        #expect(await router.awaitAck(messageID: first.messageID, timeout: .seconds(10)))
        let second = router.sendPeer(message, wantAck: true)
        async let waited = router.awaitAck(messageID: second.messageID, timeout: .seconds(10))
        for _ in 0..<1_000 where clock.sleeperCount == 0 { try? await Task.sleep(for: .milliseconds(10)) }
        clock.advance(by: .seconds(10))
        #expect(await waited == false)
    }

    @Test func remoteLoginReplacesAndLeavesChannels() {
        let router = Router(clock: ManualClock(), encoder: CountingEncoder())
        let channel = ChannelName("lobby")!
        let (watcher, watcherSink) = session(router, Self.appA, "watcher")
        let (old, oldSink) = session(router, Self.appA, "bob")
        _ = router.join(watcher, channel: channel)
        _ = router.join(old, channel: channel)
        let (new, _) = session(router, Self.appA, "bob")
        #expect(oldSink.terminations.withLock { $0 } == [.remoteLogin])
        #expect(watcherSink.texts.contains { $0.contains("memberLeft") && $0.contains("bob") })
        #expect(!router.isCurrent(old) && router.isCurrent(new))
        #expect(router.join(old, channel: channel) == .notLoggedIn)
        #expect(router.memberCounts(of: [channel], in: Self.appA) == [channel: 1])
    }
}
