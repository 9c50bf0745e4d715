import Foundation
import RTMClient
import RTMCore
import RTMProtocol
import RTMTestSupport
import Testing

/// The SDK losing its socket (cut at the server) and coming back: resume with replay inside 30 s,
/// a fresh login with restoration after.
@Suite struct ReconnectTests {
    static let app = AppID(TestServer.openAppID)!

    static func controlledClient(_ server: TestServer) -> (RTMClient, ControlledSleeper) {
        let sleeper = ControlledSleeper()
        var configuration = RTMClientConfiguration()
        configuration.sleeper = sleeper
        configuration.timings.backoff = [.milliseconds(777)]
        return (RTMClient(serverURL: server.wsURL, appID: TestServer.openAppID, configuration: configuration), sleeper)
    }

    @Test func resumeWithinGraceReplaysEverythingInOrder() async throws {
        try await TestServer.with { server in
            let (alice, sleeper) = Self.controlledClient(server)
            let states = alice.connectionStates
            try await alice.login(userID: "alice", token: nil)
            let room = alice.channel("room")
            try await room.join()
            let bob = RTMClient(serverURL: server.wsURL, appID: TestServer.openAppID)
            try await bob.login(userID: "bob", token: nil)
            let bobRoom = bob.channel("room")
            try await bobRoom.join()
            #expect(await first(room.events, where: { $0 == .memberJoined("bob") }) != nil)

            // Cut alice's socket at the server while messages keep coming.
            #expect(server.application.gateway.dropSocket(of: UserID("alice")!, in: Self.app))
            await waitUntil { server.application.router.isDetached(UserID("alice")!, in: Self.app) }
            for index in 1...10 {
                let result = try await server.post("rtm/users/bob/peer_messages", app: TestServer.openAppID,
                                                   body: #"{"destination":"alice","payload":"p\#(index)"}"#)
                #expect(result.code == "message_sent")
            }
            for index in 1...3 { try await bobRoom.send(.text("c\(index)")) }
            // Past 4 s the app sees RECONNECTING (INTERRUPTED); then the backoff ends and it resumes.
            #expect(await sleeper.fire(.seconds(4)) == 1)
            #expect(await first(states, where: { $0.state == .reconnecting })?.reason == .interrupted)
            #expect(await sleeper.fire(.milliseconds(777)) == 1)
            #expect(await first(states, where: { $0.state == .connected })?.reason == .loginSuccess)

            let peers = await collect(alice.peerMessages, count: 10)
            #expect(peers.compactMap(\.text) == (1...10).map { "p\($0)" })
            let channelTexts = await collect(room.events, count: 3, where: { if case .message = $0 { true } else { false } })
            #expect(channelTexts.map { event -> String in
                if case .message(_, .text(let text), _, _) = event { text } else { "" }
            } == ["c1", "c2", "c3"])
            // Bob never saw alice leave, and alice is still a member.
            #expect(try await bobRoom.members().contains("alice"))
            let left = await first(bobRoom.events, within: .milliseconds(300), where: { $0 == .memberLeft("alice") })
            #expect(left == nil)
        }
    }

    @Test func pastGraceLogsInAgainAndRestoresChannelsAttributesAndSubscriptions() async throws {
        let clock = ManualClock(startingAt: 1_800_000_000_000)
        try await TestServer.with(TestServer.configuration(), clock: clock) { server in
            let (alice, sleeper) = Self.controlledClient(server)
            try await alice.login(userID: "alice", token: nil)
            try await alice.channel("room").join()
            try await alice.setLocalUserAttributes([RTMAttribute(key: "mood", value: "sunny")])
            try await alice.subscribePeersOnlineStatus(["dave"])
            let bob = RTMClient(serverURL: server.wsURL, appID: TestServer.openAppID)
            try await bob.login(userID: "bob", token: nil)
            let bobRoom = bob.channel("room")
            try await bobRoom.join()

            #expect(server.application.gateway.dropSocket(of: UserID("alice")!, in: Self.app))
            await waitUntil { server.application.router.isDetached(UserID("alice")!, in: Self.app) }
            clock.advance(by: .seconds(31))
            #expect(await first(bobRoom.events, where: { $0 == .memberLeft("alice") }) != nil)
            await #expect(throws: AttributeOperationErrorCode.userNotFound) { _ = try await bob.getUserAttributes("alice") }

            let restorations = alice.sessionRestorations
            #expect(await sleeper.fire(.milliseconds(777)) == 1)
            #expect(await first(restorations) != nil)
            #expect(await first(bobRoom.events, where: { $0 == .memberJoined("alice") }) != nil, "re-joined")
            #expect(try await bob.getUserAttributes("alice") == [RTMAttribute(key: "mood", value: "sunny")], "re-pushed")
            // The subscription is back: dave's login reaches alice.
            let changes = alice.peersOnlineStatusChanges
            let dave = RTMClient(serverURL: server.wsURL, appID: TestServer.openAppID)
            try await dave.login(userID: "dave", token: nil)
            #expect(await first(changes, where: { $0["dave"] == .online }) != nil, "re-subscribed")
        }
    }
}
