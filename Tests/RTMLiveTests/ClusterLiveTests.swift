import Foundation
import RTMClient
import RTMCluster
import RTMCore
import RTMProtocol
import RTMTestSupport
import Testing

/// Cluster mode through real parts: several `rtm` servers (in this process, each its own node id,
/// HTTP listener, gateway and bus) on one throwaway PostgreSQL database, REST calls and clients on
/// different nodes.
@Suite struct ClusterLiveTests {
    static func client(_ server: TestServer, _ user: String) async throws -> RTMClient {
        let client = RTMClient(serverURL: server.wsURL, appID: TestServer.appID)
        try await client.login(userID: user, token: TestServer.token(for: user))
        return client
    }

    /// The next channel message `channel` gets, as "from: text".
    static func message(in channel: RTMChannel) async -> String? {
        guard case .message(let from, .text(let text), _, _)? = await first(channel.events, where: {
            if case .message = $0 { true } else { false }
        }) else { return nil }
        return "\(from): \(text)"
    }

    /// Waits until every node sees `user` as `state`.
    static func seen(_ user: String, _ state: RTMCore.PeerOnlineState, on servers: [TestServer], app: String = TestServer.appID) async -> Bool {
        for server in servers {
            let seen = await waitUntil {
                server.application.broker.onlineStatus(of: [UserID(user)!], in: AppID(app)!) == [state]
            }
            if !seen { return false }
        }
        return true
    }

    @Test func aRESTSendOnOneNodeReachesAClientOnAnotherAndItsAckComesBack() async throws {
        try await TestServer.cluster(nodes: 2) { nodes in
            let bob = try await Self.client(nodes[1], "bob")
            #expect(await Self.seen("bob", .online, on: nodes))
            let delivered = try await nodes[0].peer(from: "backend", to: "bob", payload: "across", query: "?wait_for_ack=true")
            #expect(delivered.status == 200 && delivered.code == "message_delivered", "\(delivered.json)")
            var inbox = bob.peerMessages.makeAsyncIterator()
            let message = await inbox.next()
            #expect(message?.text == "across" && message?.from == "backend")
            let offline = try await nodes[0].peer(from: "backend", to: "nobody", query: "?wait_for_ack=true")
            #expect(offline.code == "message_offline")
            await bob.logout()
        }
    }

    @Test func clientsOnDifferentNodesShareChannelsAndPresence() async throws {
        try await TestServer.cluster(nodes: 2) { nodes in
            let alice = try await Self.client(nodes[0], "alice")
            let bob = try await Self.client(nodes[1], "bob")
            #expect(await Self.seen("alice", .online, on: nodes))
            #expect(await Self.seen("bob", .online, on: nodes))
            // SDK to SDK across nodes, acknowledged.
            #expect(await alice.sendMessage("hi bob", toPeer: "bob").code == .ok)
            var bobInbox = bob.peerMessages.makeAsyncIterator()
            #expect(await bobInbox.next()?.text == "hi bob")
            #expect(try await alice.queryPeersOnlineStatus(["bob", "carol"]) == ["bob": .online, "carol": .offline])

            let aliceRoom = alice.channel("room"), bobRoom = bob.channel("room")
            try await aliceRoom.join()
            try await bobRoom.join()
            #expect(await waitUntil { (try? await aliceRoom.members().sorted()) == ["alice", "bob"] })
            try await bobRoom.send("hello room")
            #expect(await Self.message(in: aliceRoom) == "bob: hello room")
            // A REST channel message on one node reaches the members on both.
            let posted = try await nodes[0].channelPost(from: "backend", channel: "room", payload: "from REST")
            #expect(posted.status == 200)
            #expect(await Self.message(in: bobRoom) == "backend: from REST")
            #expect(await Self.message(in: aliceRoom) == "backend: from REST")
            await alice.logout()
            #expect(await Self.seen("alice", .offline, on: nodes))
            await bob.logout()
        }
    }

    @Test func aLoginOnAnotherNodeEndsTheOlderSessionWithRemoteLogin() async throws {
        try await TestServer.cluster(nodes: 2) { nodes in
            let first = try await RawSocket.connect(nodes[0].wsURL)
            #expect(try await first.login(app: TestServer.appID, user: "dave", token: TestServer.token(for: "dave")) == 0)
            #expect(await Self.seen("dave", .online, on: nodes))
            let second = try await RawSocket.connect(nodes[1].wsURL)
            #expect(try await second.login(app: TestServer.appID, user: "dave", token: TestServer.token(for: "dave")) == 0)
            guard case .event(_, .connectionState(let state, let reason))? = await first.frame(where: {
                if case .event(_, .connectionState) = $0 { true } else { false }
            }) else { Issue.record("the first session got no connection_state"); return }
            #expect(state == 5 && reason == 8, "ABORTED, REMOTE_LOGIN")
            #expect(await first.closeCode() == 4008)
            #expect(await Self.seen("dave", .online, on: nodes), "online on the second node")
            second.close()
        }
    }

    /// The SDK with the cluster's nodes as its server list: it skips a server it cannot reach, and
    /// when its node stops it moves to the next one and is back in its channel there (the handover
    /// test below checks that nobody sees it leave).
    @Test func theSDKFailsOverToAnotherNodeAndRejoinsWhenItsNodeStops() async throws {
        try await TestServer.cluster(nodes: 2) { nodes in
            let app = AppID(TestServer.appID)!, frank = UserID("frank")!, room = ChannelName("room")!
            let unreachable = "ws://127.0.0.1:1/v1/ws"   // nothing listens on port 1
            let client = RTMClient(serverURLs: [unreachable, nodes[0].wsURL, nodes[1].wsURL], appID: TestServer.appID)
            try await client.login(userID: "frank", token: TestServer.token(for: "frank"))
            #expect(nodes[0].application.gateway.hasSocket(of: frank, in: app), "the unreachable server was skipped")
            let channel = client.channel("room")
            try await channel.join()
            #expect(await waitUntil { nodes[1].application.broker.memberCounts(of: [room], in: app) == [room: 1] })

            try await nodes[0].application.shutdown()   // what SIGTERM does
            #expect(await waitUntil { nodes[1].application.gateway.hasSocket(of: frank, in: app) }, "moved to the other node")
            #expect(await waitUntil { nodes[1].application.router.memberCounts(of: [room], in: app) == [room: 1] }, "rejoined")
            let posted = try await nodes[1].channelPost(from: "backend", channel: "room", payload: "after failover")
            #expect(posted.status == 200)
            #expect(await Self.message(in: channel) == "backend: after failover")
            await client.logout()
        }
    }

    /// The per-app messaging limit holds for the cluster: REST sends spread over both nodes, all at
    /// once, to an app limited to 2 per second. Every admitted send came out of one shared bucket, so
    /// by any moment `t` after the start at most `2 + 2 t` were admitted (the bucket plus its
    /// refill); each node's own bucket would admit 4 at once.
    @Test func theMessagingLimitHoldsForTheClusterAsAWhole() async throws {
        try await TestServer.cluster(nodes: 2) { nodes in
            let started = ContinuousClock.now
            let answers = try await withThrowingTaskGroup(of: (Int, Duration).self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let status = try await nodes[index % 2].channelPost(from: "backend", channel: "room", app: TestServer.limitedAppID).status
                        return (status, ContinuousClock.now - started)
                    }
                }
                return try await group.reduce(into: [(Int, Duration)]()) { $0.append($1) }
            }
            let unexpected = answers.filter { $0.0 != 200 && $0.0 != 429 }
            #expect(unexpected.isEmpty, "\(answers)")
            // The n-th admission was answered at t_n, after it was admitted: n <= 2 + 2 t_n.
            let admittedAt = answers.filter { $0.0 == 200 }.map(\.1).sorted()
            #expect(!admittedAt.isEmpty, "the bucket admits its first tokens")
            for (index, time) in admittedAt.enumerated() {
                let seconds = Double(time.components.seconds) + Double(time.components.attoseconds) / 1e18
                #expect(Double(index + 1) <= 2 + 2 * seconds + 0.001, "admission \(index + 1) answered at \(time): over the shared bucket")
            }
        }
    }

    /// Three nodes, a member of one channel on each: every node counts and lists the three, and a
    /// message reaches every member but its sender.
    @Test func aChannelSpansThreeNodes() async throws {
        try await TestServer.cluster(nodes: 3) { nodes in
            let app = AppID(TestServer.appID)!, room = ChannelName("room")!
            var clients: [RTMClient] = [], channels: [RTMChannel] = []
            for (index, node) in nodes.enumerated() {
                let client = try await Self.client(node, "member\(index)")
                let channel = client.channel("room")
                try await channel.join()
                clients.append(client)
                channels.append(channel)
            }
            for node in nodes {
                #expect(await waitUntil { node.application.broker.memberCounts(of: [room], in: app) == [room: 3] }, "every node counts 3")
            }
            #expect(await waitUntil { (try? await channels[2].members().sorted()) == ["member0", "member1", "member2"] })
            try await channels[1].send("from node 2")
            #expect(await Self.message(in: channels[0]) == "member1: from node 2")
            #expect(await Self.message(in: channels[2]) == "member1: from node 2")
            for client in clients { await client.logout() }
            #expect(await waitUntil { nodes[0].application.broker.memberCounts(of: [room], in: app) == [room: 0] })
        }
    }

    /// History and event feeds live in PostgreSQL: a query prepared on one node is answered by another
    /// (once: a third gets 410), and any node's feed holds what every node recorded.
    @Test func historyAndEventFeedsSpanNodes() async throws {
        try await TestServer.cluster(nodes: 3) { nodes in
            let open = TestServer.openAppID
            let sent = try await nodes[0].post("rtm/users/userA/peer_messages", app: open,
                                               body: #"{"destination":"userB","payload":"kept","enable_historical_messaging":true}"#)
            #expect(sent.status == 200)
            let formatter = ISO8601DateFormatter()
            let start = formatter.string(from: Date().addingTimeInterval(-60)), end = formatter.string(from: Date().addingTimeInterval(60))
            let created = try await nodes[1].post("rtm/message/history/query", app: open,
                                                  body: #"{"filter":{"source":"userA","start_time":"\#(start)","end_time":"\#(end)"}}"#)
            let handle = try #require((created.json["location"] as? String)?.split(separator: "/").last.map(String.init))
            let result = try await LivePersistenceTests.get(nodes[2], "rtm/message/history/query/\(handle)", app: open)
            #expect(result.status == 200 && (result.json["messages"] as? [[String: Any]])?.map { $0["payload"] as? String } == ["kept"])
            let again = try await LivePersistenceTests.get(nodes[0], "rtm/message/history/query/\(handle)", app: open)
            #expect(again.status == 410, "single use across nodes")

            let alice = try await Self.client(nodes[0], "alice")
            await alice.logout()
            let bob = try await Self.client(nodes[1], "bob")
            await bob.logout()
            var seen: [String] = []
            for _ in 0..<50 where seen.count < 4 {   // each node's recorder flushes on its own; the feed is destructive
                let page = try await LivePersistenceTests.get(nodes[2], "rtm/vendor/user_events")
                seen += (page.json["events"] as? [[String: Any]] ?? []).map { "\($0["user_id"] ?? "") \($0["type"] ?? "")" }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(Set(seen) == ["alice Login", "alice Logout", "bob Login", "bob Logout"])
        }
    }

    /// `GET /readyz` for a load balancer: `ready` once the node's bus has synced; 503 once the node
    /// has handed its sessions over (stopping), while `/healthz` still answers.
    @Test func readinessFollowsTheBusAndTheHandover() async throws {
        try await TestServer.cluster(nodes: 2) { nodes in
            #expect(await waitUntil { (try? await nodes[0].get("/readyz"))?.0 == 200 })
            let ready = try await nodes[0].get("/readyz")
            #expect(ready.0 == 200 && ready.1 == "ready\n")
            await nodes[0].application.clusterBroker?.handOver()
            let stopping = try await nodes[0].get("/readyz")
            #expect(stopping.0 == 503 && stopping.1 == "stopping (sessions handed over)\n")
            let health = try await nodes[0].get("/healthz")
            #expect(health.0 == 200)
            let other = try await nodes[1].get("/readyz")
            #expect(other.0 == 200, "the other node is ready")
        }
    }

    /// FINE-POINTS "11 — seams": `--node-id` stays a name; only with PostgreSQL does it make a cluster.
    @Test func aNodeIDOnSQLiteOnlyNamesTheNode() async throws {
        var configuration = TestServer.configuration()
        configuration.nodeID = "solo"
        try await TestServer.with(configuration) { server in
            #expect(server.application.broker is RTMCore.Router, "one node, its router the broker")
            let answer = try await server.peer(from: "backend", to: "nobody")
            #expect(answer.code == "message_offline")
        }
    }
}
