import Foundation
import RTMClient
import RTMCore
import RTMProtocol
import RTMTestSupport
import Testing

/// The Swift SDK against a real server: every op and event, with the codes apps switch on; the
/// tests of more than one user also run on a 3-node cluster, each user on its own node.
@Suite struct LiveSDKTests {
    static func client(_ server: TestServer, app: String = TestServer.openAppID,
                       configuration: RTMClientConfiguration = RTMClientConfiguration()) -> RTMClient {
        RTMClient(serverURL: server.wsURL, appID: app, configuration: configuration)
    }

    @Test func loginStatesAndErrors() async throws {
        try await TestServer.with { server in
            let client = Self.client(server, app: TestServer.appID)
            let states = client.connectionStates
            await #expect(throws: LoginErrorCode.invalidToken) { try await client.login(userID: "ann", token: "007nope") }
            let info = try await client.login(userID: "ann", token: TestServer.token(for: "ann"))
            #expect(!info.sessionID.isEmpty && info.tokenExpiresAt != nil)
            await #expect(throws: LoginErrorCode.alreadyLoggedIn) { try await client.login(userID: "ann", token: nil) }
            try await client.renewToken(TestServer.token(for: "ann", expire: 7200))
            try await Task.sleep(for: .milliseconds(1100))  // login and renew share 2 per second
            await #expect(throws: RenewTokenErrorCode.invalidToken) { try await client.renewToken(TestServer.token(for: "bob")) }
            await client.logout()
            #expect(await client.connectionState == .disconnected)
            let changes = await collect(states, count: 5)
            #expect(changes.map { [$0.state.rawValue, $0.reason.rawValue] } == [[2, 1], [1, 3], [2, 1], [3, 2], [1, 6]])
            // Calls before login answer each op's USER_NOT_LOGGED_IN (102).
            let idle = Self.client(server)
            #expect(await idle.sendMessage("x", toPeer: "y").code == .userNotLoggedIn)
            await #expect(throws: JoinChannelErrorCode.userNotLoggedIn) { try await idle.channel("c").join() }
            await #expect(throws: QueryPeersOnlineStatusErrorCode.userNotLoggedIn) { _ = try await idle.queryPeersOnlineStatus(["a"]) }
            await #expect(throws: AttributeOperationErrorCode.userNotLoggedIn) { try await idle.clearLocalUserAttributes() }
        }
    }

    @Test(arguments: Topology.allCases)
    func channelObjectEventsAndOps(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let alice = Self.client(nodes[0]), bob = Self.client(nodes[1])
            try await alice.login(userID: "alice", token: nil)
            try await bob.login(userID: "bob", token: nil)
            let aliceRoom = alice.channel("room")
            #expect(alice.channel("room") === aliceRoom)
            try await aliceRoom.join()
            #expect(await first(aliceRoom.events) == .memberCount(1))
            try await bob.channel("room").join()
            #expect(await first(aliceRoom.events, where: { if case .memberJoined = $0 { true } else { false } }) == .memberJoined("bob"))
            try await bob.channel("room").send("hello room")
            guard case .message("bob", .text("hello room"), _, let ts)? = await first(aliceRoom.events, where: {
                if case .message = $0 { true } else { false }
            }) else { Issue.record("no channel message"); return }
            #expect(ts > 0)
            #expect(Set(try await aliceRoom.members()) == ["alice", "bob"])
            #expect(try await alice.getChannelMemberCount(["room", "empty"]) == ["room": 2, "empty": 0])
            try await bob.setChannelAttributes("room", [RTMAttribute(key: "topic", value: "cats")], notify: true)
            guard case .attributesUpdated(let attributes)? = await first(aliceRoom.events, where: {
                if case .attributesUpdated = $0 { true } else { false }
            }) else { Issue.record("no attribute update"); return }
            #expect(attributes.map(\.key) == ["topic"] && attributes.first?.lastUpdateUserID == "bob")
            try await bob.addOrUpdateChannelAttributes("room", [RTMAttribute(key: "mood", value: "good")])
            try await nodes.settle()
            #expect(try await alice.getChannelAttributes("room").map(\.key) == ["mood", "topic"])
            try await alice.deleteChannelAttributes("room", byKeys: ["mood"])
            #expect(try await alice.getChannelAttributes("room", keys: ["topic"]).map(\.value) == ["cats"])
            try await alice.clearChannelAttributes("room")
            #expect(try await alice.getChannelAttributes("room").isEmpty)
            await #expect(throws: AttributeOperationErrorCode.sizeOverflow) {
                try await alice.setChannelAttributes("room", [RTMAttribute(key: "big", value: String(repeating: "x", count: 9_000))])
            }
            try await bob.channel("room").leave()
            #expect(await first(aliceRoom.events, where: { if case .memberLeft = $0 { true } else { false } }) == .memberLeft("bob"))
            await #expect(throws: ChannelMessageErrorCode.failure) { try await bob.channel("room").send("not a member") }
            await #expect(throws: ChannelMessageErrorCode.invalidMessage) { try await aliceRoom.send(.text("")) }
        }
    }

    @Test(arguments: Topology.allCases)
    func peerMessagesRawAndText(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let alice = Self.client(nodes[0]), bob = Self.client(nodes[1])
            try await alice.login(userID: "alice", token: nil)
            try await bob.login(userID: "bob", token: nil)
            try await nodes.settle()
            let sent = await alice.sendMessage(.raw(Data([1, 2, 3]), description: "bytes"), toPeer: "bob")
            #expect(sent.code == .ok && sent.messageID != nil)
            let received = await first(bob.peerMessages)
            #expect(received?.payload == .raw(base64: "AQID", description: "bytes") && received?.from == "alice")
            #expect(await alice.sendMessage(.raw(Data(count: 32_769)), toPeer: "bob").code == .invalidMessage)
            #expect(await alice.sendMessage("to nobody", toPeer: "nobody").code == .peerUnreachable)
        }
    }

    @Test(arguments: Topology.allCases)
    func presenceQueriesSubscriptionsAndUserAttributes(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let watcher = Self.client(nodes[0]), carol = Self.client(nodes[1])
            try await watcher.login(userID: "watcher", token: nil)
            #expect(try await watcher.queryPeersOnlineStatus(["watcher", "carol"]) == ["watcher": .online, "carol": .offline])
            await #expect(throws: QueryPeersOnlineStatusErrorCode.invalidArgument) {
                _ = try await watcher.queryPeersOnlineStatus((0..<257).map { "u\($0)" })
            }
            let changes = watcher.peersOnlineStatusChanges
            try await watcher.subscribePeersOnlineStatus(["carol"])
            #expect(await first(changes) == ["carol": .offline], "the snapshot first")
            try await carol.login(userID: "carol", token: nil)
            #expect(await first(changes) == ["carol": .online])
            try await carol.setLocalUserAttributes([RTMAttribute(key: "status", value: "busy"), RTMAttribute(key: "lang", value: "en")])
            try await carol.addOrUpdateLocalUserAttributes([RTMAttribute(key: "status", value: "free")])
            try await nodes.settle()
            #expect(try await watcher.getUserAttributes("carol") == [RTMAttribute(key: "lang", value: "en"), RTMAttribute(key: "status", value: "free")])
            try await carol.deleteLocalUserAttributes(byKeys: ["lang"])
            try await nodes.settle()
            #expect(try await watcher.getUserAttributes("carol", keys: ["status", "lang"]) == [RTMAttribute(key: "status", value: "free")])
            try await carol.clearLocalUserAttributes()
            try await nodes.settle()
            #expect(try await watcher.getUserAttributes("carol").isEmpty)
            await #expect(throws: AttributeOperationErrorCode.invalidArgument) {
                try await carol.setLocalUserAttributes([RTMAttribute(key: "", value: "x")])
            }
            await carol.logout()
            #expect(await first(changes) == ["carol": .offline])
            await #expect(throws: AttributeOperationErrorCode.userNotFound) { _ = try await watcher.getUserAttributes("carol") }
            try await watcher.unsubscribePeersOnlineStatus(["carol"])
            await #expect(throws: PeerSubscriptionStatusErrorCode.overflow) {
                try await watcher.subscribePeersOnlineStatus((0..<513).map { "p\($0)" })
            }
        }
    }

    @Test(arguments: Topology.allCases)
    func remoteLoginAbortsAndNeverReconnects(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let sleeper = ControlledSleeper()
            var configuration = RTMClientConfiguration()
            configuration.sleeper = sleeper
            let first = Self.client(nodes[0], configuration: configuration)
            let states = first.connectionStates
            try await first.login(userID: "dup", token: nil)
            let second = Self.client(nodes[1])
            try await second.login(userID: "dup", token: nil)
            let aborted = await RTMTestSupport.first(states, where: { $0.state == .aborted })
            #expect(aborted?.reason == .remoteLogin)
            #expect(!sleeper.history.contains(.zero), "no reconnect timer was started")
            #expect(await first.sendMessage("x", toPeer: "y").code == .userNotLoggedIn)
        }
    }
}
