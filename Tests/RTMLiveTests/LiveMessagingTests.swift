import Foundation
import RTMClient
import RTMProtocol
import RTMTestSupport
import Testing

/// REST and WebSocket through a real server on an ephemeral port, with real clients; each test also
/// runs on a 3-node cluster with its parties on different nodes.
@Suite struct LiveMessagingTests {
    /// A client logged in as `user`. `loginTimeout` is the SDK's 6 s unless a test that logs in
    /// many clients at once on a loaded machine needs more (it tests fan-out, not login time).
    static func client(_ server: TestServer, _ user: String, loginTimeout: Duration? = nil) async throws -> RTMClient {
        var configuration = RTMClientConfiguration()
        if let loginTimeout { configuration.timings.loginTimeout = loginTimeout }
        let client = RTMClient(serverURL: server.wsURL, appID: TestServer.appID, configuration: configuration)
        try await client.login(userID: user, token: TestServer.token(for: user))
        return client
    }

    static func loggedInRaw(_ server: TestServer, _ user: String) async throws -> RawSocket {
        let socket = try await RawSocket.connect(server.wsURL)
        #expect(try await socket.login(app: TestServer.appID, user: user, token: TestServer.token(for: user)) == 0)
        return socket
    }

    @Test(arguments: Topology.allCases)
    func restPeerMessageSentDeliveredOfflineAndTimeout(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let server = nodes[0]
            let receiver = try await Self.client(nodes[1], "userB")
            try await nodes.settle()
            let sent = try await server.peer(from: "userA", to: "userB", payload: "one")
            #expect(sent.status == 200 && sent.code == "message_sent")
            let delivered = try await server.peer(from: "userA", to: "userB", payload: "two", query: "?wait_for_ack=true")
            #expect(delivered.status == 200 && delivered.code == "message_delivered")
            var iterator = receiver.peerMessages.makeAsyncIterator()
            let first = await iterator.next(), second = await iterator.next()
            #expect(first?.text == "one" && first?.from == "userA" && first?.isOffline == false)
            #expect(second?.text == "two")

            let offline = try await server.peer(from: "userA", to: "nobody", query: "?wait_for_ack=true")
            #expect(offline.status == 200 && offline.code == "message_offline")
            #expect(offline.json["result"] as? String == "success")

            // A receiver that never acks: 408 once the (3 s in tests) ack timeout passes.
            let silent = try await Self.loggedInRaw(nodes[2], "silent")
            try await nodes.settle()
            let timedOut = try await server.peer(from: "userA", to: "silent", payload: "ack me", query: "?wait_for_ack=true")
            #expect(timedOut.status == 408 && timedOut.code == "timeout")
            guard case .event(_, .peerMessage(_, "userA", .text("ack me"), _, false))? = await silent.frame(where: {
                if case .event(_, .peerMessage) = $0 { true } else { false }
            }) else { Issue.record("the silent receiver did not get the message"); return }
        }
    }

    @Test(arguments: Topology.allCases)
    func sdkPeerSendCodes(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let alice = try await Self.client(nodes[0], "alice")
            let bob = try await Self.client(nodes[1], "bob")
            try await nodes.settle()
            let acked = await alice.sendMessage("hi bob", toPeer: "bob")
            #expect(acked.code == .ok)
            #expect(acked.messageID != nil)
            var inbox = bob.peerMessages.makeAsyncIterator()
            #expect(await inbox.next()?.text == "hi bob")
            #expect(await alice.sendMessage("anyone?", toPeer: "carol").code == .peerUnreachable)
            #expect(await alice.sendMessage("", toPeer: "bob").code == .invalidMessage)
            #expect(await alice.sendMessage("x", toPeer: " bad").code == .invalidUserID)
            // Order is kept from one sender to one receiver.
            for index in 0..<20 { _ = await alice.sendMessage(.text("n\(index)"), toPeer: "bob") }
            var texts: [String] = []
            for _ in 0..<20 { texts.append(await inbox.next()?.text ?? "") }
            #expect(texts == (0..<20).map { "n\($0)" })
        }
    }

    @Test(arguments: Topology.allCases)
    func sdkPeerSendTimesOutWithoutAck(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let alice = try await Self.client(nodes[0], "alice")
            _ = try await Self.loggedInRaw(nodes[1], "mute")
            try await nodes.settle()
            #expect(await alice.sendMessage("hello?", toPeer: "mute").code == .sentTimeout)
        }
    }

    @Test(arguments: Topology.allCases)
    func channelFanOutReachesMembersButNotSenderOrOutsiders(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let server = nodes[0]
            var members: [RawSocket] = []
            for index in 0..<5 {
                let socket = try await Self.loggedInRaw(nodes[index], "member\(index)")
                try await socket.send(#"{"op":"join","id":2,"channel":"room"}"#)
                guard case .reply(2, 0, _)? = await socket.frame(where: { if case .reply = $0 { true } else { false } }) else {
                    Issue.record("join failed"); return
                }
                members.append(socket)
            }
            let sender = try await Self.loggedInRaw(nodes[5], "sender")
            try await sender.send(#"{"op":"join","id":2,"channel":"room"}"#)
            _ = await sender.frame(where: { if case .reply = $0 { true } else { false } })
            let outsider = try await Self.loggedInRaw(nodes[6], "outsider")
            try await nodes.settle()
            // REST, as the sender: every member but the sender gets it.
            #expect(try await server.channelPost(from: "sender", channel: "room", payload: "to all").code == "message_sent")
            for member in members {
                let frame = await member.frame(where: { if case .event(_, .channelMessage) = $0 { true } else { false } })
                guard case .event(let seq, .channelMessage("room", "sender", _, .text("to all"), _))? = frame else {
                    Issue.record("member missed the channel message"); return
                }
                #expect((seq ?? 0) > 0)
            }
            // Over the socket too: send_channel from a member reaches the others, not itself.
            try await sender.send(#"{"op":"send_channel","id":3,"channel":"room","text":"ws hello"}"#)
            guard case .reply(3, 0, _)? = await sender.frame(where: { if case .reply(3, _, _) = $0 { true } else { false } }) else {
                Issue.record("send_channel failed"); return
            }
            for member in members {
                let frame = await member.frame(where: { if case .event(_, .channelMessage) = $0 { true } else { false } })
                guard case .event(_, .channelMessage(_, "sender", _, .text("ws hello"), _))? = frame else {
                    Issue.record("member missed the ws channel message"); return
                }
            }
            // Neither the sender nor the outsider receive a channel message.
            try await sender.send(#"{"op":"get_members","id":4,"channel":"room"}"#)
            let senderFrames = await Self.drain(sender, until: 4)
            #expect(!senderFrames.contains { if case .event(_, .channelMessage) = $0 { true } else { false } })
            try await outsider.send(#"{"op":"get_channel_member_count","id":5,"channels":["room","empty"]}"#)
            let outsiderFrames = await Self.drain(outsider, until: 5)
            #expect(!outsiderFrames.contains { if case .event(_, .channelMessage) = $0 { true } else { false } })
            guard case .reply(5, 0, let fields)? = outsiderFrames.last else { Issue.record("count failed"); return }
            #expect(fields["counts"]?.objectValue?["room"]?.intValue == 6)
            #expect(fields["counts"]?.objectValue?["empty"]?.intValue == 0)
            // send_channel without joining is refused with FAILURE.
            try await outsider.send(#"{"op":"send_channel","id":6,"channel":"room","text":"let me in"}"#)
            guard case .reply(6, 1, _)? = await outsider.frame(where: { if case .reply = $0 { true } else { false } }) else {
                Issue.record("outsider send_channel should fail with 1"); return
            }
        }
    }

    /// Frames up to and including the reply to `id`.
    static func drain(_ socket: RawSocket, until id: Int64) async -> [ServerFrame] {
        var frames: [ServerFrame] = []
        for _ in 0..<100 {
            guard let frame = await socket.nextFrame() else { break }
            frames.append(frame)
            if case .reply(id, _, _) = frame { break }
        }
        return frames
    }

    @Test(arguments: Topology.allCases)
    func twoHundredConcurrentClientsEachGetTheChannelMessage(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let server = nodes[0]
            let clients = try await withThrowingTaskGroup(of: RTMClient.self) { group in
                for index in 0..<200 {
                    let node = nodes[index]
                    group.addTask {
                        let client = try await Self.client(node, "crowd\(index)", loginTimeout: .seconds(60))
                        try await client.channel("stadium").join()
                        return client
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(clients.count == 200)
            try await nodes.settle()
            #expect(try await server.channelPost(from: "announcer", channel: "stadium", payload: "goal").code == "message_sent")
            let received = await withTaskGroup(of: Bool.self) { group in
                for client in clients {
                    group.addTask {
                        await first(client.events, within: .seconds(20)) { event in
                            if case .channelMessage(_, "announcer", _, .text("goal"), _) = event { true } else { false }
                        } != nil
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(received == 200)
            for client in clients { await client.logout() }
        }
    }
}
