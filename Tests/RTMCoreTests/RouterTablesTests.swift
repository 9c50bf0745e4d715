@testable import RTMCore
import RTMTestSupport
import Testing

/// The router's four concerns as values, without a router, locks or sockets: sessions and acks,
/// channels and member-count pacing, presence and grace periods, attributes.
@Suite struct RouterTablesTests {
    static let app = AppID("0123456789abcdef0123456789abcdef")!

    static func session(_ user: String) -> RouterSession {
        RouterSession(appID: app, userID: UserID(user)!, sessionID: "s-\(user)", sink: RecordingSink())
    }

    static func key(_ user: String) -> SessionKey { SessionKey(appID: app, userID: UserID(user)!) }

    static func channel(_ name: String) -> ChannelKey { ChannelKey(appID: app, channel: ChannelName(name)!) }

    @Test func aSessionTableKeepsOneCurrentSessionPerUser() {
        var table = SessionTable()
        let first = Self.session("alice"), second = Self.session("alice")
        #expect(table.insert(first) == nil)
        #expect(table.insert(second) === first, "the newer login replaces the older")
        let removedOlder = table.remove(first)
        #expect(!removedOlder, "only the current session is removed")
        #expect(table.isCurrent(second) && table.remove(second) && table.current(Self.key("alice")) == nil)
    }

    @Test func anAckBeforeItsWaitIsKeptATimeoutWithoutAWaitIsNot() async {
        var table = SessionTable()
        let bob = Self.session("bob")
        _ = table.insert(bob)
        _ = table.openAck("m1", receiver: bob.key, maximum: 10)
        #expect(table.isAwaitingAck("m1", from: bob) && !table.isAwaitingAck("m1", from: Self.session("eve")))
        #expect(table.resolve("m1", acked: true) == nil, "no waiter yet: the ack is kept")
        let early = await withCheckedContinuation { continuation in
            continuation.resume(returning: table.wait("m1", continuation) ?? false)
        }
        #expect(early == true && table.pendingAcks.isEmpty, "the kept ack answers the wait and closes the slot")

        let opened = table.openAck("m2", receiver: bob.key, maximum: 1)
        let openedPastTheBound = table.openAck("m9", receiver: bob.key, maximum: 1)
        #expect(opened && !openedPastTheBound && table.pendingAcks["m9"] == nil, "no slot past the bound")
        #expect(table.resolve("m2", acked: false) == nil && table.pendingAcks["m2"]?.acked == false, "a timeout before the wait keeps nothing")
        #expect(table.closeAck("m2") == nil && table.pendingAcks.isEmpty)
        let none = await withCheckedContinuation { continuation in continuation.resume(returning: table.wait("m3", continuation) ?? true) }
        #expect(none == false, "no slot: the wait ends at once")
    }

    @Test func aChannelTableBoundsJoinsAndAnnouncesBelowTheThreshold() {
        var limits = RouterLimits()
        limits.maximumJoinedChannels = 2
        limits.memberEventThreshold = 2
        var table = ChannelTable()
        let alice = Self.session("alice"), bob = Self.session("bob"), carol = Self.session("carol")
        for session in [alice, bob, carol] { table.sessionStarted(session.key) }
        #expect(table.join(alice, ChannelName("a")!, limits: limits, membersElsewhere: 0).outcome == .joined(memberCount: 1))
        #expect(table.join(alice, ChannelName("a")!, limits: limits, membersElsewhere: 0).outcome == .alreadyJoined)
        #expect(table.join(alice, ChannelName("b")!, limits: limits, membersElsewhere: 0).outcome == .joined(memberCount: 1))
        #expect(table.join(alice, ChannelName("c")!, limits: limits, membersElsewhere: 0).outcome == .exceedLimit)
        let bobJoined = table.join(bob, ChannelName("a")!, limits: limits, membersElsewhere: 0)
        #expect(bobJoined.outcome == .joined(memberCount: 2) && bobJoined.toAnnounce.map(\.userID) == [alice.userID])
        #expect(table.join(carol, ChannelName("a")!, limits: limits, membersElsewhere: 0).toAnnounce.isEmpty, "past the threshold nobody is told")
        #expect(Set(table.receivers(of: Self.channel("a"), except: bob.userID).map(\.userID)) == [alice.userID, carol.userID])

        let left = table.leave(carol.key, ChannelName("a")!, limits: limits, membersElsewhere: 0)
        #expect(left?.remainingCount == 2 && left?.toAnnounce.isEmpty == true, "left a channel past the threshold: nobody is told")
        #expect(table.leave(carol.key, ChannelName("a")!, limits: limits, membersElsewhere: 0) == nil)
        let bobLeft = table.leave(bob.key, ChannelName("a")!, limits: limits, membersElsewhere: 0)
        #expect(bobLeft?.remainingCount == 1 && bobLeft?.toAnnounce.map(\.userID) == [alice.userID], "within it: members are told")
        let all = table.leaveAll(alice.key, limits: limits, membersElsewhere: { _ in 0 })
        #expect(Set(all.map(\.channel.channel.rawValue)) == ["a", "b"] && table.channels(of: alice.key).isEmpty)
        #expect(table.isEmpty(Self.channel("b")) && table.memberCount(of: Self.channel("a")) == 0)
        // In a cluster the threshold counts every node's members: one here and two elsewhere is past 2.
        let dave = Self.session("dave")
        table.sessionStarted(dave.key)
        _ = table.join(alice, ChannelName("d")!, limits: limits, membersElsewhere: 0)
        #expect(table.join(dave, ChannelName("d")!, limits: limits, membersElsewhere: 1).toAnnounce.isEmpty)
        #expect(table.leave(dave.key, ChannelName("d")!, limits: limits, membersElsewhere: 1)?.toAnnounce.isEmpty == true)
    }

    @Test func memberCountsArePaced() {
        var limits = RouterLimits()
        limits.memberCountInterval = .seconds(1)
        var table = ChannelTable()
        let alice = Self.session("alice")
        table.sessionStarted(alice.key)
        _ = table.join(alice, ChannelName("a")!, limits: limits, membersElsewhere: 0)
        let key = Self.channel("a")
        #expect(table.scheduleCount(key, now: 10_000, limits: limits, membersElsewhere: 0) == 0, "the first count goes out at once")
        #expect(table.scheduleCount(key, now: 10_000, limits: limits, membersElsewhere: 0) == nil, "one flush at a time")
        #expect(table.flushCount(key, now: 10_000).map(\.userID) == [alice.userID])
        #expect(table.scheduleCount(key, now: 10_400, limits: limits, membersElsewhere: 0) == 600, "the next waits out the interval")
        _ = table.leaveAll(alice.key, limits: limits, membersElsewhere: { _ in 0 })
        #expect(table.flushCount(key, now: 11_000).isEmpty && table.scheduleCount(key, now: 11_000, limits: limits, membersElsewhere: 0) == nil,
                "an emptied channel is forgotten at its flush")
    }

    @Test func aPresenceTableTracksGracePeriodsBySessionGeneration() {
        var table = PresenceTable()
        let alice = Self.key("alice")
        let first = table.detach(alice, at: 1_000)
        #expect(first != nil && table.detach(alice, at: 1_500) == nil, "detached once")
        #expect(table.presence(of: alice, online: true) == .online)
        #expect(table.markUnreachable(alice, generation: first!) && table.presence(of: alice, online: true) == .unreachable)
        let sawUnreachable = table.reattach(alice)
        #expect(sawUnreachable, "watchers saw UNREACHABLE")
        let second = table.detach(alice, at: 2_000)
        #expect(second != first && !table.markUnreachable(alice, generation: first!), "an old grace period's timer is void")
        #expect(!table.reattach(alice) && !table.isDetached(alice))
        #expect(table.presence(of: alice, online: false) == .offline)
    }

    @Test func aPresenceTableBoundsAndCleansSubscriptions() {
        var table = PresenceTable()
        let watcher = Self.key("watcher")
        #expect(table.subscribe(watcher, to: [UserID("a")!, UserID("b")!, UserID("a")!], maximum: 2) == [UserID("a")!, UserID("b")!])
        #expect(table.subscribe(watcher, to: [UserID("c")!], maximum: 2) == nil, "over the total")
        #expect(table.watchers(of: Self.key("a")) == [watcher])
        table.unsubscribe(watcher, from: [UserID("a")!])
        #expect(table.watchers(of: Self.key("a")).isEmpty && table.subscriptions(of: watcher) == [UserID("b")!])
        table.sessionRemoved(watcher)
        #expect(table.watchers.isEmpty && table.subscriptions.isEmpty, "a removed session watches nothing")
    }

    @Test func anAttributeTableKeepsUntouchedChannelAttributesAsTheyWere() throws {
        var limits = AttributeLimits()
        limits.maximumCount = 2
        var table = AttributeTable(limits: limits)
        let room = Self.channel("room")
        let alice = UserID("alice")!, bob = UserID("bob")!
        _ = table.writeChannel(room, by: alice, .replaceAll([AttributeEntry(key: "k1", value: "v1")]), now: 1)
        let all = try table.writeChannel(room, by: bob, .addOrUpdate([AttributeEntry(key: "k2", value: "v2")]), now: 2).get()
        #expect(all.map(\.key) == ["k1", "k2"] && all.map(\.lastUpdateUserID) == [alice, bob] && all.map(\.lastUpdateTimestamp) == [1, 2])
        let tooMany = table.writeChannel(room, by: bob, .addOrUpdate([AttributeEntry(key: "k3", value: "v3")]), now: 3)
        #expect(throws: AttributeOutcome.sizeOverflow) { try tooMany.get() }
        let badKey = table.writeChannel(room, by: bob, .addOrUpdate([AttributeEntry(key: "bad key", value: "v")]), now: 3)
        #expect(throws: AttributeOutcome.invalidArgument) { try badKey.get() }
        #expect(table.channel(room, keys: nil).map(\.value) == ["v1", "v2"], "a refused write changes nothing")
        let generation = try #require(table.dropGeneration(room))
        table.channelGainedMember(room)
        table.drop(room, ifStill: generation)
        #expect(table.channel(room, keys: nil).count == 2, "a member joined since: the drop is void")
        table.drop(room, ifStill: try #require(table.dropGeneration(room)))
        #expect(table.channel(room, keys: nil).isEmpty)

        #expect(table.writeUser(Self.key("alice"), .replaceAll([AttributeEntry(key: "a", value: "1")])) == .ok)
        #expect(table.user(Self.key("alice"), keys: ["a", "zz"]).map(\.value) == ["1"])
        table.sessionRemoved(Self.key("alice"))
        #expect(table.user(Self.key("alice"), keys: nil).isEmpty)
    }
}
