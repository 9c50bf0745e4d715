import Foundation
import RTMClient
import RTMProtocol
import RTMTestSupport
import Testing

/// A node of a cluster killed with SIGKILL (three `rtm serve` child processes on one throwaway
/// PostgreSQL, short leases): the others notice when the lease runs out, its users become OFFLINE
/// to everyone and leave their channels, a send waiting for their ack is never answered
/// `message_delivered`, and sends to them are `message_offline` from then on, whichever node answers.
@Suite struct ClusterNodeLossTests {
    static let appID = ProcessCluster.appID

    /// Three `rtm serve` processes on one fresh database with `lease`-second leases, renewed every
    /// `renewal` seconds. Runs `body` with the survivor and the doomed node and their ports, and the
    /// cluster (its third node is `nodes[2]`); stops them (SIGKILL) and removes their files after.
    static func withCluster(lease: Int = 2, renewal: Int = 1,
                            _ body: (_ survivor: ServerProcess, _ doomed: ServerProcess, _ survivorPort: Int, _ doomedPort: Int,
                                     _ cluster: ProcessCluster) async throws -> Void) async throws {
        let cluster = try await ProcessCluster(nodes: 3, lease: lease, renewal: renewal)
        defer { cluster.stop() }
        try await body(cluster.nodes[0], cluster.nodes[1], cluster.ports[0], cluster.ports[1], cluster)
    }

    /// Whether a node other than the doomed one (whichever swept its lease) logged its loss.
    static func lossLogged(_ cluster: ProcessCluster) -> Bool {
        [cluster.nodes[0], cluster.nodes[2]].contains { $0.text.contains("node node-2 lost") }
    }

    /// An SDK client "watcher" logged in through `port` and joined to "room".
    static func watcherInRoom(port: Int) async throws -> (RTMClient, RTMChannel) {
        let watcher = RTMClient(serverURL: "ws://127.0.0.1:\(port)/v1/ws", appID: appID)
        try await watcher.login(userID: "watcher", token: nil)
        let room = watcher.channel("room")
        try await room.join()
        return (watcher, room)
    }

    @Test func aKilledNodesUsersGoOfflineEverywhere() async throws {
        try await Self.withCluster { survivor, doomed, survivorPort, doomedPort, cluster in

            let (watcher, room) = try await Self.watcherInRoom(port: survivorPort)
            let victim = try await RawSocket.connect("ws://127.0.0.1:\(doomedPort)/v1/ws")
            #expect(try await victim.login(app: Self.appID, user: "victim", token: nil) == 0)
            #expect(try await victim.call(.join(channel: "room"), id: 2)?.code == 0)
            #expect(await waitUntil { (try? await watcher.queryPeersOnlineStatus(["victim"])) == ["victim": .online] }, "seen across nodes")
            try await watcher.subscribePeersOnlineStatus(["victim"])
            #expect(await waitUntil { (try? await room.members().sorted()) == ["victim", "watcher"] })

            // A send that waits for the victim's ack; the victim never acks (a raw socket does not).
            let waiting = Task { try await ProcessCluster.peer(port: survivorPort, to: "victim", payload: "never acked", query: "?wait_for_ack=true") }
            guard case .event(_, .peerMessage)? = await victim.frame(where: { if case .event(_, .peerMessage) = $0 { true } else { false } }) else {
                Issue.record("the victim did not get the message")
                return
            }
            kill(doomed.pid, SIGKILL)

            // The lease (2 s) runs out and the survivor's sweep (every 1 s) reports the loss.
            let left = await first(room.events, within: .seconds(20), where: { $0 == .memberLeft("victim") })
            #expect(left == .memberLeft("victim"), "the victim left the channel")
            let offline = await first(watcher.events, within: .seconds(20), where: {
                if case .peersOnlineStatus(let statuses) = $0 { statuses.contains { $0.userID == "victim" && $0.state == 2 } } else { false }
            })
            #expect(offline != nil, "watchers see OFFLINE")
            let answer = try await waiting.value
            #expect(answer.status == 408 && answer.code != "message_delivered", "never delivered for a message nobody acked: \(answer)")
            #expect(try await ProcessCluster.peer(port: survivorPort, to: "victim", payload: "later", query: "?wait_for_ack=true").code == "message_offline")
            #expect(await waitUntil {
                (try? await ProcessCluster.peer(port: cluster.ports[2], to: "victim", payload: "later", query: "?wait_for_ack=true").code) == "message_offline"
            }, "the third node knows it too")
            #expect(Self.lossLogged(cluster), "a surviving node logged the loss")
            await watcher.logout()
        }
    }

    /// A client of a killed node presents `resume` to the other node within the grace period: the
    /// session is taken over from what the cluster knew (its channel, its subscription, its
    /// attributes), its events are numbered on, and messages reach it there.
    @Test func aSessionOfAKilledNodeIsTakenOverByAResumeElsewhere() async throws {
        try await Self.withCluster { survivor, doomed, survivorPort, doomedPort, cluster in

            let (watcher, room) = try await Self.watcherInRoom(port: survivorPort)

            let traveller = try await RawSocket.connect("ws://127.0.0.1:\(doomedPort)/v1/ws")
            let login = try #require(try await traveller.call(.login(appID: Self.appID, userID: "traveller", token: nil), id: 1))
            let sessionID = try #require(login.fields["session_id"]?.stringValue)
            #expect(try await traveller.call(.join(channel: "room"), id: 2)?.code == 0)
            #expect(try await traveller.call(.subscribePeersOnlineStatus(userIDs: ["watcher"]), id: 3)?.code == 0)
            #expect(try await traveller.call(.setLocalUserAttributes([AttributePair(key: "mood", value: "travelling")]), id: 4)?.code == 0)
            #expect(await waitUntil { (try? await room.members().sorted()) == ["traveller", "watcher"] })
            #expect(await waitUntil {
                (try? await watcher.getUserAttributes("traveller"))?.first { $0.key == "mood" }?.value == "travelling"
            }, "the attributes reached the other node")
            // The last seq the client says it saw: far above any count the new node could start from.
            let lastSeq: Int64 = 1_000
            kill(doomed.pid, SIGKILL)
            let left = await first(room.events, within: .seconds(20), where: { $0 == .memberLeft("traveller") })
            #expect(left == .memberLeft("traveller"), "the loss was noticed")

            let back = try await RawSocket.connect("ws://127.0.0.1:\(survivorPort)/v1/ws")
            let resumed = try await back.call(.resume(sessionID: sessionID, token: nil, lastEventSeq: lastSeq), id: 1)
            #expect(resumed?.code == 0 && resumed?.fields["session_id"]?.stringValue == sessionID, "taken over: \(String(describing: resumed))")
            let joinedAgain = await first(room.events, within: .seconds(10), where: { $0 == .memberJoined("traveller") })
            #expect(joinedAgain == .memberJoined("traveller"), "others see the user join again")
            #expect((try? await watcher.getUserAttributes("traveller"))?.first { $0.key == "mood" }?.value == "travelling", "attributes kept")
            #expect(try await back.call(.getMembers(channel: "room"), id: 2)?.code == 0, "still in the channel")

            #expect(try await ProcessCluster.peer(port: survivorPort, to: "traveller", payload: "welcome back").code == "message_sent")
            guard case .event(let seq?, .peerMessage(_, "backend", .text("welcome back"), _, _))? = await back.frame(where: {
                if case .event(_, .peerMessage) = $0 { true } else { false }
            }) else { Issue.record("the message did not reach the taken-over session"); return }
            #expect(seq > lastSeq, "events are numbered on from the last the client saw")
            // Its subscription came with it: the watcher's logout reaches the taken-over session.
            await watcher.logout()
            let watcherOffline = await back.frame(where: {
                if case .event(_, .peersOnlineStatus(let statuses)) = $0 { statuses.contains { $0.userID == "watcher" && $0.state == 2 } } else { false }
            })
            #expect(watcherOffline != nil, "the subscription was taken over")
            #expect(Self.lossLogged(cluster))
        }
    }

    /// A client of a killed node resumes on the other node before the loss is noticed (a 10 s lease):
    /// the session is taken over from the view, and the watcher in its channel sees no `member_left`,
    /// neither then nor when the loss is noticed later (FINE-POINTS, "A node lost").
    @Test func aSessionIsTakenOverBeforeTheLossIsNoticedAndNobodySeesItLeave() async throws {
        try await Self.withCluster(lease: 10, renewal: 3) { survivor, doomed, survivorPort, doomedPort, cluster in
            let (watcher, room) = try await Self.watcherInRoom(port: survivorPort)
            let early = try await RawSocket.connect("ws://127.0.0.1:\(doomedPort)/v1/ws")
            let login = try #require(try await early.call(.login(appID: Self.appID, userID: "early", token: nil), id: 1))
            let sessionID = try #require(login.fields["session_id"]?.stringValue)
            #expect(try await early.call(.join(channel: "room"), id: 2)?.code == 0)
            #expect(await waitUntil { (try? await room.members().sorted()) == ["early", "watcher"] })
            kill(doomed.pid, SIGKILL)

            let back = try await RawSocket.connect("ws://127.0.0.1:\(survivorPort)/v1/ws")
            let resumed = try await back.call(.resume(sessionID: sessionID, token: nil, lastEventSeq: 1_000), id: 1)
            #expect(resumed?.code == 0, "taken over before the loss was noticed: \(String(describing: resumed))")
            #expect(!Self.lossLogged(cluster), "the loss was not noticed yet")
            #expect(try await ProcessCluster.peer(port: survivorPort, to: "early", payload: "still here").code == "message_sent")
            guard case .event(_, .peerMessage(_, "backend", .text("still here"), _, _))? = await back.frame(where: {
                if case .event(_, .peerMessage) = $0 { true } else { false }
            }) else { Issue.record("the message did not reach the taken-over session"); return }

            var noticed = false
            for _ in 0..<2 where !noticed {   // up to 20 s (waitUntil waits 10 s at most)
                noticed = await waitUntil { Self.lossLogged(cluster) }
            }
            #expect(noticed, "the loss is noticed (lease 10 s, renewal 3 s)")
            let left = await first(room.events, within: .milliseconds(500), where: { $0 == .memberLeft("early") })
            #expect(left == nil, "nobody saw the user leave")
            #expect(try await watcher.queryPeersOnlineStatus(["early"]) == ["early": .online])
            await watcher.logout()
        }
    }
}
