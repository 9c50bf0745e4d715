import NIOCore
import RTMCore
import RTMTestSupport
import Synchronization
import Testing

/// Router behaviour over time, on a manual clock: member count pacing, the large-channel threshold,
/// and channel attributes outliving an empty channel for a while.
@Suite struct RouterTimingTests {
    static let app = AppID("970CA35de60c44645bbae8a215061b33")!
    static let channel = ChannelName("hall")!

    func router(_ clock: ManualClock, threshold: Int = 512) -> Router {
        var limits = RouterLimits()
        limits.memberEventThreshold = threshold
        return Router(clock: clock, encoder: CountingEncoder(), limits: limits)
    }

    func member(_ router: Router, _ user: String) -> (RouterSession, RecordingSink) {
        let sink = RecordingSink()
        let session = RouterSession(appID: Self.app, userID: UserID(user)!, sessionID: user, sink: sink)
        router.login(session)
        _ = router.join(session, channel: Self.channel)
        return (session, sink)
    }

    static func counts(_ sink: RecordingSink) -> [String] { sink.texts.filter { $0.hasPrefix("memberCount") } }

    static func settle(_ clock: ManualClock, sleepers: Int) async {
        for _ in 0..<2_500 where clock.sleeperCount < sleepers { try? await Task.sleep(for: .milliseconds(2)) }
    }

    @Test func memberCountIsPacedToOncePerSecond() async {
        let clock = ManualClock()
        let router = router(clock)
        let (_, first) = member(router, "u0")
        #expect(Self.counts(first).count == 0, "the joiner's own count comes from its join reply path")
        // u0's join broadcast at once (to nobody else); u1…u5 joining within the next second are coalesced.
        for index in 1...5 { _ = member(router, "u\(index)") }
        #expect(Self.counts(first).isEmpty)
        await Self.settle(clock, sleepers: 1)
        clock.advance(by: .milliseconds(999))
        try? await Task.sleep(for: .milliseconds(20))
        #expect(Self.counts(first).isEmpty)
        clock.advance(by: .milliseconds(1))
        for _ in 0..<2_500 where Self.counts(first).isEmpty { try? await Task.sleep(for: .milliseconds(2)) }
        #expect(Self.counts(first) == ["memberCount(channel: hall, count: 6)}"])
    }

    @Test func memberEventsStopAboveTheThresholdAndCountsSlowDown() async {
        let clock = ManualClock()
        let router = router(clock, threshold: 3)
        let (_, watcher) = member(router, "w")
        for index in 0..<4 { _ = member(router, "m\(index)") }
        let joined = watcher.texts.filter { $0.hasPrefix("memberJoined") }.count
        #expect(joined == 2, "m0 and m1 are announced (2 and 3 members); m2 and m3 are not")
        await Self.settle(clock, sleepers: 1)
        clock.advance(by: .seconds(1))
        try? await Task.sleep(for: .milliseconds(20))
        let before = Self.counts(watcher).count
        _ = member(router, "late")
        await Self.settle(clock, sleepers: 1)
        clock.advance(by: .milliseconds(2_999))
        try? await Task.sleep(for: .milliseconds(20))
        #expect(Self.counts(watcher).count == before, "above the threshold: at most one count per 3 s")
        clock.advance(by: .milliseconds(1))
        for _ in 0..<2_500 where Self.counts(watcher).count == before { try? await Task.sleep(for: .milliseconds(2)) }
        #expect(Self.counts(watcher).count == before + 1)
    }

    @Test func channelAttributesAreDroppedTwoMinutesAfterTheChannelEmpties() async {
        let clock = ManualClock()
        let router = router(clock)
        let (session, _) = member(router, "owner")
        #expect(router.writeChannelAttributes(app: Self.app, channel: Self.channel, by: session.userID,
                                              .replaceAll([AttributeEntry(key: "k", value: "v")]), notify: false) == .ok)
        _ = router.leave(session, channel: Self.channel)
        await Self.settle(clock, sleepers: 2)
        clock.advance(by: .seconds(119))
        #expect(router.channelAttributes(of: Self.channel, in: Self.app, keys: nil).count == 1)
        clock.advance(by: .seconds(1))
        for _ in 0..<2_500 where !router.channelAttributes(of: Self.channel, in: Self.app, keys: nil).isEmpty {
            try? await Task.sleep(for: .milliseconds(2))
        }
        #expect(router.channelAttributes(of: Self.channel, in: Self.app, keys: nil).isEmpty)
        // A member coming back in time keeps them.
        let (again, _) = member(router, "owner2")
        _ = router.writeChannelAttributes(app: Self.app, channel: Self.channel, by: again.userID,
                                          .replaceAll([AttributeEntry(key: "k", value: "v")]), notify: false)
        clock.advance(by: .seconds(300))
        try? await Task.sleep(for: .milliseconds(20))
        #expect(router.channelAttributes(of: Self.channel, in: Self.app, keys: nil).count == 1)
    }
}
