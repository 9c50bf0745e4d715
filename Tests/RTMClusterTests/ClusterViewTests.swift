import RTMCluster
import RTMCore
import Testing

/// The view of the other nodes' sessions as a value: bus events in, what the node must tell its own
/// sessions out.
@Suite struct ClusterViewTests {
    static let app = "970CA35de60c44645bbae8a215061b33"
    static let appID = AppID(app)!
    static let bob = UserID("bob")!
    static let room = ChannelName("room")!

    /// The view behind a reference, so that `#expect` can hold its mutating calls.
    final class View {
        var view = ClusterView(nodeID: "here")
        func apply(_ event: ClusterEvent, origin: String) -> [ClusterView.Change] { view.apply(event, origin: origin) }
    }

    @Test func aLoginElsewhereMakesTheUserOnlineAndALogoutOffline() {
        let view = View()
        #expect(view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "b")
            == [.loggedInElsewhere(Self.appID, Self.bob, node: "b"), .presence(Self.appID, Self.bob, .online)])
        #expect(view.view.holder(of: Self.bob, in: Self.appID) == .init(node: "b", sessionID: "s1", reachable: true))
        #expect(view.apply(.logout(app: Self.app, user: "bob", session: "other"), origin: "b") == [], "not the current session")
        #expect(view.apply(.logout(app: Self.app, user: "bob", session: "s1"), origin: "b") == [.presence(Self.appID, Self.bob, .offline)])
        #expect(view.view.holder(of: Self.bob, in: Self.appID) == nil)
    }

    @Test func thisNodesOwnEventsAreNotApplied() {
        let view = View()
        #expect(view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "here") == [])
        #expect(view.view.holders.isEmpty)
    }

    @Test func membersElsewhereAreCountedAndListed() {
        let view = View()
        _ = view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "b")
        #expect(view.apply(.join(app: Self.app, channel: "room", user: "bob"), origin: "b") == [.memberJoined(Self.appID, Self.room, Self.bob)])
        #expect(view.apply(.join(app: Self.app, channel: "room", user: "bob"), origin: "b") == [], "already a member")
        _ = view.apply(.join(app: Self.app, channel: "room", user: "carol"), origin: "c")
        #expect(view.view.remoteMemberCount(of: Self.room, in: Self.appID) == 2)
        #expect(Set(view.view.remoteMembers(of: Self.room, in: Self.appID)) == [Self.bob, UserID("carol")!])
        #expect(view.apply(.leave(app: Self.app, channel: "room", user: "bob"), origin: "b") == [.memberLeft(Self.appID, Self.room, Self.bob)])
        #expect(view.view.remoteMemberCount(of: Self.room, in: Self.appID) == 1)
    }

    @Test func aNewerLoginOnAnotherNodeTakesTheUserOutOfTheOlderSessionsChannels() {
        let view = View()
        _ = view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "b")
        _ = view.apply(.join(app: Self.app, channel: "room", user: "bob"), origin: "b")
        #expect(view.apply(.login(app: Self.app, user: "bob", session: "s2"), origin: "c")
            == [.loggedInElsewhere(Self.appID, Self.bob, node: "c"), .memberLeft(Self.appID, Self.room, Self.bob)],
                "still online: no presence change")
        #expect(view.view.holder(of: Self.bob, in: Self.appID)?.node == "c")
        #expect(view.apply(.logout(app: Self.app, user: "bob", session: "s1"), origin: "b") == [], "the older session's logout changes nothing")
    }

    @Test func reachabilityIsPresence() {
        let view = View()
        _ = view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "b")
        #expect(view.apply(.reachability(app: Self.app, user: "bob", session: "s1", reachable: false), origin: "b")
            == [.presence(Self.appID, Self.bob, .unreachable)])
        #expect(view.apply(.reachability(app: Self.app, user: "bob", session: "s1", reachable: false), origin: "b") == [])
        #expect(view.apply(.reachability(app: Self.app, user: "bob", session: "s1", reachable: true), origin: "b")
            == [.presence(Self.appID, Self.bob, .online)])
    }

    @Test func attributesAreKeptForUsersHeldElsewhereAndGoWithTheSession() {
        let view = View()
        #expect(view.view.attributes(of: Self.bob, in: Self.appID) == nil, "not logged in")
        _ = view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "b")
        #expect(view.view.attributes(of: Self.bob, in: Self.appID) == [])
        _ = view.apply(.userAttributes(app: Self.app, user: "bob", attributes: [.init(key: "mood", value: "fine")]), origin: "b")
        _ = view.apply(.userAttributes(app: Self.app, user: "bob", attributes: [.init(key: "mood", value: "forged")]), origin: "x")
        #expect(view.view.attributes(of: Self.bob, in: Self.appID) == [AttributeEntry(key: "mood", value: "fine")], "only the holder writes")
        _ = view.apply(.logout(app: Self.app, user: "bob", session: "s1"), origin: "b")
        #expect(view.view.attributes(of: Self.bob, in: Self.appID) == nil)
    }

    @Test func aLostNodesUsersGoOfflineAndLeaveTheirChannels() {
        let view = View()
        _ = view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "b")
        _ = view.apply(.join(app: Self.app, channel: "room", user: "bob"), origin: "b")
        _ = view.apply(.login(app: Self.app, user: "carol", session: "s2"), origin: "c")
        #expect(view.apply(.nodeLost(node: "b"), origin: "c")
            == [.memberLeft(Self.appID, Self.room, Self.bob), .presence(Self.appID, Self.bob, .offline)])
        #expect(view.view.holder(of: UserID("carol")!, in: Self.appID) != nil && view.view.remoteMemberCount(of: Self.room, in: Self.appID) == 0)
    }

    @Test func aStoppingNodesSessionsStayUntilTakenOverOrExpired() {
        let view = View()
        _ = view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "b")
        _ = view.apply(.join(app: Self.app, channel: "room", user: "bob"), origin: "b")
        _ = view.apply(.login(app: Self.app, user: "carol", session: "s2"), origin: "b")
        #expect(view.apply(.nodeLeaving(node: "b"), origin: "b") == [], "nobody is told")
        #expect(view.apply(.logout(app: Self.app, user: "bob", session: "s1"), origin: "b") == [], "its logouts are not logouts")
        #expect(view.apply(.leave(app: Self.app, channel: "room", user: "bob"), origin: "b") == [])
        #expect(view.view.sessions(heldBy: "b").map(\.othersStillSeeIt) == [true, true])
        // Taken over on c: the same session, moved without a word.
        #expect(view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "c") == [])
        #expect(view.view.holder(of: Self.bob, in: Self.appID)?.node == "c")
        #expect(view.view.remoteMembers(of: Self.room, in: Self.appID) == [Self.bob])
        #expect(view.apply(.join(app: Self.app, channel: "room", user: "bob"), origin: "c") == [], "already a member")
        // Not taken over within the grace period: ends as after a loss.
        #expect(view.view.expireHandedOver(by: "b", sessionIDs: ["s1", "s2"]) == [.presence(Self.appID, UserID("carol")!, .offline)])
        #expect(view.view.holder(of: Self.bob, in: Self.appID)?.node == "c", "the taken-over session stays")
    }

    /// A session of this node taken over by node c (its client resumed there): the view places it on
    /// c, in its channels, with its attributes, and c's events for it that follow change nothing.
    @Test func aSessionTakenOverFromThisNodeIsAdoptedWithoutAWord() {
        let view = View()
        view.view.adopt(LocalSessionState(appID: Self.appID, userID: Self.bob, sessionID: "s1", reachable: true, channels: [Self.room],
                                          attributes: [AttributeEntry(key: "k", value: "v")], subscriptions: []), on: "c")
        #expect(view.view.holder(of: Self.bob, in: Self.appID) == .init(node: "c", sessionID: "s1", reachable: true))
        #expect(view.view.remoteMembers(of: Self.room, in: Self.appID) == [Self.bob])
        #expect(view.view.attributes(of: Self.bob, in: Self.appID) == [AttributeEntry(key: "k", value: "v")])
        #expect(view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "c") == [], "announced again")
        #expect(view.apply(.join(app: Self.app, channel: "room", user: "bob"), origin: "c") == [], "already a member")
        #expect(view.apply(.logout(app: Self.app, user: "bob", session: "s1"), origin: "c")
            == [.memberLeft(Self.appID, Self.room, Self.bob), .presence(Self.appID, Self.bob, .offline)])
    }

    /// A session watchers saw UNREACHABLE (its socket dropped) and taken over on another node: they see
    /// it ONLINE again, and nothing else.
    @Test func aTakeOverOfAnUnreachableSessionIsOnlineAgain() {
        let view = View()
        _ = view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "b")
        #expect(view.apply(.reachability(app: Self.app, user: "bob", session: "s1", reachable: false), origin: "b")
            == [.presence(Self.appID, Self.bob, .unreachable)])
        #expect(view.apply(.login(app: Self.app, user: "bob", session: "s1"), origin: "c") == [.presence(Self.appID, Self.bob, .online)])
        #expect(view.view.holder(of: Self.bob, in: Self.appID) == .init(node: "c", sessionID: "s1", reachable: true))
    }

    @Test func eventsWithInvalidIdsAreIgnored() {
        let view = View()
        #expect(view.apply(.login(app: "not an app id!", user: "bob", session: "s"), origin: "b") == [])
        #expect(view.apply(.join(app: Self.app, channel: "", user: "bob"), origin: "b") == [])
        #expect(view.view.holders.isEmpty && view.view.members.isEmpty)
    }

    @Test func eventsReadBackFromTheirBusBodies() {
        let events: [ClusterEvent] = [
            .login(app: Self.app, user: "bob", session: "s1"),
            .userAttributes(app: Self.app, user: "bob", attributes: [.init(key: "k\u{0}", value: "é😀")]),
            .peerMessage(.init(app: Self.app, from: "a", to: "bob", receiverNode: "b", messageID: "m-1",
                               content: .init(text: "a\u{0}b \"quoted\""), serverTimestamp: 1_700_000_000_000, wantsAck: true, offline: false)),
            .channelMessage(.init(app: Self.app, channel: "room", from: "a", messageID: "m-2",
                                  content: .init(rawBase64: "AAEC", description: "raw"), serverTimestamp: 1)),
            .ack(messageID: "m-1", senderNode: "a", acknowledged: true),
            .channelAttributes(app: Self.app, channel: "room", attributes: [.init(key: "topic", value: "née", updatedBy: "admin", updatedAt: 5)],
                               notify: true, announced: false),
            .announceRequest,
            .nodeLost(node: "b"),
        ]
        for event in events {
            let body = event.encoded()
            #expect(!body.unicodeScalars.contains("\u{0}"), "a notification cannot hold U+0000")
            #expect(ClusterEvent.decode(body) == event)
        }
        #expect(ClusterEvent.decode(#"{"unknown":{}}"#) == nil)
    }
}
