import Foundation
import RTMCore
import RTMProtocol
import Testing

/// Sessions outliving their sockets (resume, replay, grace), presence and attributes, on a real server
/// (presence and attributes also on a 3-node cluster).
@Suite struct LiveResumeAndPresenceTests {
    static func send(_ socket: RawSocket, _ json: String) async throws { try await socket.send(json) }

    /// The reply to `id`, skipping events (which are collected into `events`).
    static func reply(_ socket: RawSocket, _ id: Int64, events: inout [ServerEvent],
                      within limit: Duration = .seconds(10)) async -> (Int, [String: JSONValue])? {
        for _ in 0..<100 {
            switch await socket.nextFrame(within: limit) {
            case .reply(id, let code, let fields)?: return (code, fields)
            case .event(_, let event)?: events.append(event)
            case nil: return nil
            default: continue
            }
        }
        return nil
    }

    /// The events that arrive within `limit` (replies are skipped).
    static func events(_ socket: RawSocket, within limit: Duration) async -> [ServerEvent] {
        var events: [ServerEvent] = []
        for _ in 0..<1_000 {
            guard let frame = await socket.nextFrame(within: limit) else { break }
            if case .event(_, let event) = frame { events.append(event) }
        }
        return events
    }

    static func request(_ socket: RawSocket, _ json: String, id: Int64) async throws -> (Int, [String: JSONValue])? {
        try await socket.send(json)
        var ignored: [ServerEvent] = []
        return await reply(socket, id, events: &ignored)
    }

    static func login(_ server: TestServer, _ user: String) async throws -> (RawSocket, String) {
        let socket = try await RawSocket.connect(server.wsURL)
        try await socket.send(String(decoding: ClientRequest.login(appID: TestServer.openAppID, userID: user, token: nil).encode(id: 1), as: UTF8.self))
        guard case .reply(1, 0, let fields)? = await socket.nextFrame(), let sessionID = fields["session_id"]?.stringValue else {
            throw RTMTestError.unexpected("login of \(user) failed")
        }
        return (socket, sessionID)
    }

    @Test func resumeReplaysMissedPeerAndChannelMessagesInOrder() async throws {
        try await TestServer.with { server in
            let (watcher, _) = try await Self.login(server, "watcher")
            #expect(try await Self.request(watcher, #"{"op":"join","id":2,"channel":"room"}"#, id: 2)?.0 == 0)
            let (alice, sessionID) = try await Self.login(server, "alice")
            #expect(try await Self.request(alice, #"{"op":"join","id":2,"channel":"room"}"#, id: 2)?.0 == 0)
            // One message before the drop, seen by the client.
            #expect(try await server.post("rtm/users/bob/peer_messages", app: TestServer.openAppID,
                                          body: #"{"destination":"alice","payload":"seen"}"#).code == "message_sent")
            var lastSeq: Int64 = 0
            for _ in 0..<10 {
                guard case .event(let seq?, let event)? = await alice.nextFrame() else { continue }
                lastSeq = seq
                if case .peerMessage(_, _, .text("seen"), _, _) = event { break }
            }
            #expect(lastSeq > 0)
            alice.close()   // the socket drops without logout
            #expect(await alice.closeCode() != nil)
            for _ in 0..<1_000 where server.application.router.isOnline(UserID("alice")!, in: AppID(TestServer.openAppID)!) == false {
                try await Task.sleep(for: .milliseconds(10))
            }
            // While away: peer messages and channel messages.
            for index in 1...5 {
                let result = try await server.post("rtm/users/bob/peer_messages", app: TestServer.openAppID,
                                                   body: #"{"destination":"alice","payload":"p\#(index)"}"#)
                #expect(result.code == "message_sent", "alice stays online during the grace period")
            }
            for index in 1...3 {
                #expect(try await server.channelPost(from: "bob", channel: "room", payload: "c\(index)", app: TestServer.openAppID).code == "message_sent")
            }
            let resumed = try await RawSocket.connect(server.wsURL)
            try await resumed.send(String(decoding: ClientRequest.resume(sessionID: sessionID, token: nil, lastEventSeq: lastSeq).encode(id: 7), as: UTF8.self))
            guard case .reply(7, 0, let fields)? = await resumed.nextFrame() else { Issue.record("resume failed"); return }
            #expect(fields["session_id"]?.stringValue == sessionID)
            var texts: [String] = []
            var seqs: [Int64] = []
            for _ in 0..<8 {
                guard case .event(let seq?, let event)? = await resumed.nextFrame() else { break }
                seqs.append(seq)
                switch event {
                case .peerMessage(_, _, .text(let text), _, _), .channelMessage(_, _, _, .text(let text), _): texts.append(text)
                default: break
                }
            }
            #expect(texts.filter { $0.hasPrefix("p") } == ["p1", "p2", "p3", "p4", "p5"])
            #expect(texts.filter { $0.hasPrefix("c") } == ["c1", "c2", "c3"])
            #expect(seqs == seqs.sorted() && seqs.first.map { $0 > lastSeq } == true)
            // The session still works and the watcher never saw alice leave.
            #expect(try await Self.request(resumed, #"{"op":"get_members","id":8,"channel":"room"}"#, id: 8)?.0 == 0)
            let watcherEvents = await Self.events(watcher, within: .milliseconds(300))
            #expect(!watcherEvents.contains { if case .memberLeft(_, "alice") = $0 { true } else { false } })
        }
    }

    /// A peer message the client saw (its seq ≤ the resume's `last_event_seq`) but never acknowledged
    /// counts as delivered: the sender's `wait_for_ack` call answers `message_delivered`, not 408.
    @Test func resumeAcknowledgesPeerMessagesUpToLastEventSeq() async throws {
        // A manual clock: the ack wait cannot time out while the test is slow, only the resume can end it.
        let clock = ManualClock(startingAt: 1_800_000_000_000)
        try await TestServer.with(TestServer.configuration(), clock: clock) { server in
            let (alice, sessionID) = try await Self.login(server, "alice")
            let call = Task { () -> (Int, String?) in
                let result = try await server.post("rtm/users/bob/peer_messages?wait_for_ack=true", app: TestServer.openAppID,
                                                   body: #"{"destination":"alice","payload":"seen-not-acked"}"#)
                return (result.status, result.code)
            }
            var seenSeq: Int64?
            for _ in 0..<10 {
                guard case .event(let seq?, let event)? = await alice.nextFrame() else { continue }
                if case .peerMessage(_, _, .text("seen-not-acked"), _, _) = event { seenSeq = seq; break }
            }
            let lastSeq = try #require(seenSeq)
            alice.close()   // no ack was sent; the socket drops without logout
            #expect(await alice.closeCode() != nil)
            let resumed = try await RawSocket.connect(server.wsURL)
            try await resumed.send(String(decoding: ClientRequest.resume(sessionID: sessionID, token: nil, lastEventSeq: lastSeq)
                .encode(id: 7), as: UTF8.self))
            guard case .reply(7, 0, _)? = await resumed.nextFrame() else { Issue.record("resume failed"); return }
            let (status, code) = try await call.value
            #expect(status == 200 && code == "message_delivered", "got \(status) \(code ?? "-")")
        }
    }

    @Test func graceExpiryUnreachableThenOfflineAndMemberLeft() async throws {
        let clock = ManualClock(startingAt: 1_800_000_000_000)
        try await TestServer.with(TestServer.configuration(), clock: clock) { server in
            let (watcher, _) = try await Self.login(server, "watcher")
            #expect(try await Self.request(watcher, #"{"op":"join","id":2,"channel":"room"}"#, id: 2)?.0 == 0)
            var events: [ServerEvent] = []
            try await watcher.send(#"{"op":"subscribe_peers_online_status","id":3,"user_ids":["alice"]}"#)
            #expect(await Self.reply(watcher, 3, events: &events)?.0 == 0)
            let (alice, sessionID) = try await Self.login(server, "alice")
            #expect(try await Self.request(alice, #"{"op":"join","id":2,"channel":"room"}"#, id: 2)?.0 == 0)
            alice.close()
            let router = server.application.router
            for _ in 0..<1_000 where !router.isDetached(UserID("alice")!, in: AppID(TestServer.openAppID)!) {
                try await Task.sleep(for: .milliseconds(10))
            }
            clock.advance(by: .seconds(7))
            // A query still says ONLINE; subscribers see UNREACHABLE.
            try await watcher.send(#"{"op":"query_peers_online_status","id":4,"user_ids":["alice","ghost"]}"#)
            let query = await Self.reply(watcher, 4, events: &events)
            #expect(query?.1["statuses"]?.objectValue?["alice"]?.intValue == 0)
            #expect(query?.1["statuses"]?.objectValue?["ghost"]?.intValue == 2)
            clock.advance(by: .seconds(24))
            try await watcher.send(#"{"op":"get_members","id":5,"channel":"room"}"#)
            let members = await Self.reply(watcher, 5, events: &events)
            #expect(members?.1["members"]?.arrayValue?.compactMap(\.stringValue) == ["watcher"])
            let states = events.compactMap { event -> Int? in
                if case .peersOnlineStatus(let statuses) = event { statuses.first { $0.userID == "alice" }?.state } else { nil }
            }
            #expect(states == [2, 0, 1, 2], "snapshot OFFLINE, login ONLINE, UNREACHABLE at 6 s, OFFLINE at 30 s")
            #expect(events.contains { if case .memberLeft("room", "alice") = $0 { true } else { false } })
            // Too late to resume.
            let late = try await RawSocket.connect(server.wsURL)
            try await late.send(String(decoding: ClientRequest.resume(sessionID: sessionID, token: nil, lastEventSeq: 0).encode(id: 1), as: UTF8.self))
            guard case .reply(1, 2, _)? = await late.nextFrame() else { Issue.record("expected REJECTED"); return }
        }
    }

    @Test(arguments: Topology.allCases)
    func presenceLimits(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let (socket, _) = try await Self.login(nodes[1], "looker")
            let many = (0..<257).map { "\"u\($0)\"" }.joined(separator: ",")
            #expect(try await Self.request(socket, #"{"op":"query_peers_online_status","id":2,"user_ids":[\#(many)]}"#, id: 2)?.0 == 2)
            #expect(try await Self.request(socket, #"{"op":"query_peers_online_status","id":3,"user_ids":["looker","x"]}"#, id: 3)?.1["statuses"]
                == .object(["looker": .int(0), "x": .int(2)]))
            let first = (0..<500).map { "\"a\($0)\"" }.joined(separator: ",")
            let second = (0..<13).map { "\"b\($0)\"" }.joined(separator: ",")
            #expect(try await Self.request(socket, #"{"op":"subscribe_peers_online_status","id":4,"user_ids":[\#(first)]}"#, id: 4)?.0 == 0)
            #expect(try await Self.request(socket, #"{"op":"subscribe_peers_online_status","id":5,"user_ids":[\#(second)]}"#, id: 5)?.0 == 6)
            #expect(try await Self.request(socket, #"{"op":"subscribe_peers_online_status","id":6,"user_ids":["a1","a2"]}"#, id: 6)?.0 == 0)
            #expect(try await Self.request(socket, #"{"op":"unsubscribe_peers_online_status","id":7,"user_ids":["a1"]}"#, id: 7)?.0 == 0)
            #expect(try await Self.request(socket, #"{"op":"subscribe_peers_online_status","id":8,"user_ids":[" bad"]}"#, id: 8)?.0 == 2)
        }
    }

    @Test(arguments: Topology.allCases)
    func userAndChannelAttributes(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let (alice, _) = try await Self.login(nodes[0], "alice")
            let (bob, _) = try await Self.login(nodes[1], "bob")
            #expect(try await Self.request(alice, #"{"op":"set_local_user_attributes","id":2,"attributes":[{"key":"mood","value":"happy"},{"key":"city","value":"Oslo"}]}"#, id: 2)?.0 == 0)
            #expect(try await Self.request(alice, #"{"op":"add_or_update_local_user_attributes","id":3,"attributes":[{"key":"mood","value":"calm"}]}"#, id: 3)?.0 == 0)
            try await nodes.settle()
            let read = try await Self.request(bob, #"{"op":"get_user_attributes","id":2,"user_id":"alice"}"#, id: 2)
            #expect(read?.0 == 0)
            #expect(read?.1["attributes"] == .array([.object(["key": .string("city"), "value": .string("Oslo")]),
                                                      .object(["key": .string("mood"), "value": .string("calm")])]))
            let keyed = try await Self.request(bob, #"{"op":"get_user_attributes","id":3,"user_id":"alice","keys":["mood"]}"#, id: 3)
            #expect(keyed?.1["attributes"]?.arrayValue?.count == 1)
            #expect(try await Self.request(bob, #"{"op":"get_user_attributes","id":4,"user_id":"nobody"}"#, id: 4)?.0 == 6)
            #expect(try await Self.request(alice, #"{"op":"add_or_update_local_user_attributes","id":4,"attributes":[{"key":"k","value":""}]}"#, id: 4)?.0 == 3)
            let big = String(repeating: "v", count: 8_193)
            #expect(try await Self.request(alice, #"{"op":"add_or_update_local_user_attributes","id":5,"attributes":[{"key":"k","value":"\#(big)"}]}"#, id: 5)?.0 == 4)
            let tooMany = (0..<33).map { #"{"key":"k\#($0)","value":"v"}"# }.joined(separator: ",")
            #expect(try await Self.request(alice, #"{"op":"set_local_user_attributes","id":6,"attributes":[\#(tooMany)]}"#, id: 6)?.0 == 4)
            let halves = (0..<3).map { #"{"key":"h\#($0)","value":"\#(String(repeating: "x", count: 6_000))"}"# }.joined(separator: ",")
            #expect(try await Self.request(alice, #"{"op":"set_local_user_attributes","id":7,"attributes":[\#(halves)]}"#, id: 7)?.0 == 4, "over 16 KB in total")
            #expect(try await Self.request(alice, #"{"op":"delete_local_user_attributes_by_keys","id":8,"keys":["city"]}"#, id: 8)?.0 == 0)
            try await nodes.settle()
            #expect(try await Self.request(bob, #"{"op":"get_user_attributes","id":5,"user_id":"alice"}"#, id: 5)?.1["attributes"]?.arrayValue?.count == 1)

            // Channel attributes: bob is a member, alice writes from outside with notify.
            #expect(try await Self.request(bob, #"{"op":"join","id":6,"channel":"board"}"#, id: 6)?.0 == 0)
            #expect(try await Self.request(alice, #"{"op":"set_channel_attributes","id":9,"channel":"board","notify":true,"attributes":[{"key":"topic","value":"news"}]}"#, id: 9)?.0 == 0)
            #expect(try await Self.request(alice, #"{"op":"add_or_update_channel_attributes","id":10,"channel":"board","notify":true,"attributes":[{"key":"owner","value":"alice"}]}"#, id: 10)?.0 == 0)
            try await nodes.settle()   // bob's node has both writes (and queued both notifications) before it answers his read
            var bobEvents: [ServerEvent] = []
            let bobRead = await {
                try? await bob.send(#"{"op":"get_channel_attributes","id":7,"channel":"board"}"#)
                return await Self.reply(bob, 7, events: &bobEvents)
            }()
            let updates = bobEvents.compactMap { event -> [ChannelAttributeValue]? in
                if case .channelAttributesUpdated("board", let attributes) = event { attributes } else { nil }
            }
            #expect(updates.count == 2)
            #expect(updates.last?.map(\.key) == ["owner", "topic"], "the full set, not a diff")
            #expect(updates.last?.allSatisfy { $0.lastUpdateUserID == "alice" && $0.lastUpdateTimestamp > 0 } == true)
            #expect(ChannelAttributeValue.read(bobRead?.1["attributes"]).map(\.value) == ["alice", "news"])
            let large = (0..<5).map { #"{"key":"b\#($0)","value":"\#(String(repeating: "y", count: 7_000))"}"# }.joined(separator: ",")
            #expect(try await Self.request(alice, #"{"op":"set_channel_attributes","id":11,"channel":"board","notify":false,"attributes":[\#(large)]}"#, id: 11)?.0 == 4, "over 32 KB")
            // Logout clears user attributes.
            #expect(try await Self.request(alice, #"{"op":"logout","id":12}"#, id: 12)?.0 == 0)
            try await nodes.settle()
            #expect(try await Self.request(bob, #"{"op":"get_user_attributes","id":8,"user_id":"alice"}"#, id: 8)?.0 == 6)
        }
    }
}

enum RTMTestError: Error {
    case unexpected(String)
}

/// Every per-client limit of `client-protocol.md` §8 answers its TOO_OFTEN code.
@Suite struct PerClientLimitTests {
    @Test func eachLimitAnswersItsTooOftenCode() async throws {
        let clock = ManualClock()
        try await TestServer.with(TestServer.configuration(), clock: clock) { server in
            let (socket, _) = try await LiveResumeAndPresenceTests.login(server, "limited")
            var id: Int64 = 10
            /// Sends `count` requests back to back (so the bucket cannot refill), then reads the replies in order.
            func codes(_ count: Int, _ make: (Int64) -> String) async throws -> [Int] {
                let first = id + 1
                for _ in 0..<count {
                    id += 1
                    try await socket.send(make(id))
                }
                var result: [Int] = []
                var ignored: [ServerEvent] = []
                for replyID in first...id {
                    result.append(await LiveResumeAndPresenceTests.reply(socket, replyID, events: &ignored)?.0 ?? -1)
                }
                return result
            }
            #expect(try await codes(11) { #"{"op":"query_peers_online_status","id":\#($0),"user_ids":["a"]}"# } == Array(repeating: 0, count: 10) + [5])
            #expect(try await codes(11) { #"{"op":"clear_local_user_attributes","id":\#($0)}"# } == Array(repeating: 0, count: 10) + [5])
            #expect(try await codes(41) { #"{"op":"get_channel_attributes","id":\#($0),"channel":"c"}"# } == Array(repeating: 0, count: 40) + [5])
            #expect(try await codes(2) { #"{"op":"get_channel_member_count","id":\#($0),"channels":["c"]}"# } == [0, 3])
            let many = (0..<33).map { "\"c\($0)\"" }.joined(separator: ",")
            clock.advance(by: .seconds(1))
            #expect(try await codes(1) { #"{"op":"get_channel_member_count","id":\#($0),"channels":[\#(many)]}"# } == [5])
            #expect(try await codes(1) { #"{"op":"join","id":\#($0),"channel":"c"}"# } == [0])
            #expect(try await codes(6) { #"{"op":"get_members","id":\#($0),"channel":"c"}"# } == Array(repeating: 0, count: 5) + [4])
        }
    }
}
