import AgoraToken
import Foundation
import RTMClient
import RTMCore
@testable import RTMGateway
import NIOCore
import NIOPosix
import RTMProtocol
import RTMTestSupport
import Testing

/// Login, kicks, limits, bad input and slow consumers on a real server (the kick and the channel
/// operations also on a 3-node cluster).
@Suite struct LiveSessionTests {
    @Test func loginCodes() async throws {
        try await TestServer.with { server in
            let now = UInt32(Date().timeIntervalSince1970)
            func code(_ app: String, _ user: String, _ token: String?) async throws -> Int? {
                let socket = try await RawSocket.connect(server.wsURL)
                defer { socket.close() }
                return try await socket.login(app: app, user: user, token: token)
            }
            #expect(try await code("00000000000000000000000000000000", "u1", TestServer.token(for: "u1")) == 4)
            #expect(try await code(TestServer.appID, "u1", nil) == 5)
            #expect(try await code(TestServer.appID, "u1", TestServer.token(for: "someone-else")) == 5)
            #expect(try await code(TestServer.appID, "u1", "007garbage") == 5)
            let expired = RTMToken.build007(appID: TestServer.appID, certificate: TestServer.certificate, userID: "u1",
                                            expireSeconds: 60, issuedAt: now - 3600)
            #expect(try await code(TestServer.appID, "u1", expired) == 6)
            let token006 = RTMToken.build006(appID: TestServer.appID, certificate: TestServer.certificate, userID: "u1",
                                             privilegeExpiredTs: 0, builtAt: now)
            #expect(try await code(TestServer.appID, "u1", token006) == 0)
            #expect(try await code(TestServer.openAppID, "u2", nil) == 0)
            #expect(try await code(TestServer.appID, " u1", TestServer.token(for: " u1")) == 3)
            // Requests before login get 102; a second login on the same socket gets 8.
            let socket = try await RawSocket.connect(server.wsURL)
            try await socket.send(#"{"op":"join","id":7,"channel":"c"}"#)
            guard case .reply(7, 102, _)? = await socket.nextFrame() else { Issue.record("expected 102"); return }
            #expect(try await socket.login(app: TestServer.openAppID, user: "u3", token: nil) == 0)
            #expect(try await socket.login(app: TestServer.openAppID, user: "u3", token: nil, id: 9) == 8)
        }
    }

    @Test(arguments: Topology.allCases)
    func remoteLoginKicksTheOlderSession(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let watcher = try await LiveMessagingTests.loggedInRaw(nodes[0], "watcher")
            try await watcher.send(#"{"op":"join","id":2,"channel":"lobby"}"#)
            // The watcher is in before bob joins (else bob's join may come first and it sees no member_joined).
            guard case .reply(2, 0, _)? = await watcher.frame(where: { if case .reply(2, _, _) = $0 { true } else { false } }) else {
                Issue.record("the watcher's join failed"); return
            }
            let first = try await LiveMessagingTests.loggedInRaw(nodes[1], "bob")
            try await first.send(#"{"op":"join","id":2,"channel":"lobby"}"#)
            guard case .event(_, .memberJoined("lobby", "bob"))? = await watcher.frame(where: {
                if case .event(_, .memberJoined) = $0 { true } else { false }
            }) else { Issue.record("watcher did not see bob join"); return }

            let second = try await RawSocket.connect(nodes[2].wsURL)
            #expect(try await second.login(app: TestServer.appID, user: "bob", token: TestServer.token(for: "bob")) == 0)
            let kicked = await first.frame(where: { if case .event(_, .connectionState) = $0 { true } else { false } })
            guard case .event(_, .connectionState(5, 8))? = kicked else { Issue.record("no ABORTED/REMOTE_LOGIN"); return }
            #expect(await first.closeCode() == 4008)
            guard case .event(_, .memberLeft("lobby", "bob"))? = await watcher.frame(where: {
                if case .event(_, .memberLeft) = $0 { true } else { false }
            }) else { Issue.record("watcher did not see bob leave"); return }
            // The new session works.
            try await nodes.settle()
            #expect(try await nodes[0].peer(from: "x", to: "bob", query: "?wait_for_ack=false").code == "message_sent")
        }
    }

    @Test(arguments: Topology.allCases)
    func joinLimitsAndChannelOps(_ topology: Topology) async throws {
        try await TestServer.on(topology, clock: ManualClock()) { nodes in
            let client = RTMClient(serverURL: nodes[1].wsURL, appID: TestServer.openAppID)
            try await client.login(userID: "joiner", token: nil)
            // Same channel more than 2 times in 5 s: JOIN_SAME_CHANNEL_TOO_OFTEN.
            let c0 = client.channel("c0")
            try await c0.join()
            try await c0.leave()
            try await c0.join()
            try await c0.leave()
            await #expect(throws: JoinChannelErrorCode.joinSameChannelTooOften) { try await c0.join() }
            for index in 1...20 { try await client.channel("c\(index)").join() }
            await #expect(throws: JoinChannelErrorCode.exceedLimit) { try await client.channel("c21").join() }
            await #expect(throws: JoinChannelErrorCode.alreadyJoined) { try await client.channel("c1").join() }
            await #expect(throws: JoinChannelErrorCode.invalidArgument) { try await client.channel("bad/name").join() }
            await #expect(throws: LeaveChannelErrorCode.notInChannel) { try await c0.leave() }
            #expect(try await client.channel("c1").members() == ["joiner"])
            await #expect(throws: GetMembersErrorCode.notInChannel) { _ = try await c0.members() }
            #expect(try await client.getChannelMemberCount(["c1", "nope"]) == ["c1": 1, "nope": 0])
        }
    }

    @Test func sendRateLimitPerSession() async throws {
        try await TestServer.with(TestServer.configuration(), clock: ManualClock()) { server in
            let client = RTMClient(serverURL: server.wsURL, appID: TestServer.openAppID)
            try await client.login(userID: "chatty", token: nil)
            // A burst well over 180 sends (sent together, so the bucket barely refills).
            let codes = try await withThrowingTaskGroup(of: PeerMessageErrorCode.self) { group in
                for _ in 0..<400 { group.addTask { await client.sendMessage("x", toPeer: "nobody").code } }
                return try await group.reduce(into: [PeerMessageErrorCode]()) { $0.append($1) }
            }
            let unreachable = codes.filter { $0 == .peerUnreachable }.count
            let tooOften = codes.filter { $0 == .tooOften }.count
            #expect(unreachable == 180, "180 per 3 s")
            #expect(tooOften == 220)
        }
    }

    @Test func garbageFramesThenAHealthyClient() async throws {
        try await TestServer.with { server in
            let bad = try await RawSocket.connect(server.wsURL)
            #expect(try await bad.login(app: TestServer.openAppID, user: "bad", token: nil) == 0)
            try await bad.send(#"{"op":"join","id":"x","channel":5}"#)      // id unreadable: protocol_error
            try await bad.send(#"{"op":"send_peer","id":3,"to":"a","text":7}"#) // op known, id readable: its code
            guard case .event(_, .protocolError)? = await bad.nextFrame() else { Issue.record("expected protocol_error"); return }
            guard case .reply(3, 7, _)? = await bad.nextFrame() else { Issue.record("expected INVALID_MESSAGE"); return }
            try await bad.send(#"{"op":"send_peer","id":4,"to":5,"text":"x"}"#)    // the bad field is `to`
            guard case .reply(4, 6, _)? = await bad.nextFrame() else { Issue.record("expected INVALID_USERID"); return }
            try await bad.send("not json at all {")
            try await bad.send(#"{"no":"op"}"#)
            #expect(await bad.closeCode() == 1008)

            let binary = try await RawSocket.connect(server.wsURL)
            try await binary.sendBinary([0, 1, 2, 3])
            #expect(await binary.closeCode() == 1003)

            let huge = try await RawSocket.connect(server.wsURL)
            try? await huge.send(String(repeating: "x", count: 70_000))
            #expect(await huge.closeCode() == 1009)

            // Fragmented messages are joined; one over 64 KiB in total is refused like a big frame.
            let fragmented = try await RawSocket.connect(server.wsURL)
            try await fragmented.sendFragmented([#"{"op":"login","id":1,"#, #""app_id":"\#(TestServer.openAppID)","#, #""user_id":"frag"}"#])
            guard case .reply(1, 0, _)? = await fragmented.nextFrame() else { Issue.record("expected a login reply"); return }
            try? await fragmented.sendFragmented(Array(repeating: String(repeating: "y", count: 30_000), count: 3))
            #expect(await fragmented.closeCode() == 1009)

            let silent = try await RawSocket.connect(server.wsURL)  // never logs in
            _ = silent

            let healthy = RTMClient(serverURL: server.wsURL, appID: TestServer.openAppID)
            try await healthy.login(userID: "healthy", token: nil)
            #expect(try await server.post("rtm/users/x/peer_messages?wait_for_ack=true", app: TestServer.openAppID,
                                          body: #"{"destination":"healthy","payload":"still here"}"#).code == "message_delivered")
        }
    }

    @Test func slowConsumerIsClosedWithoutSlowingOthers() async throws {
        // The paused socket answers no ping: on a loaded machine the ping deadline (10 s) could close
        // it before its queue overflows, and then nothing counts it as a slow consumer. The fast client
        // acks the last send after it read the whole firehose, which on a loaded machine takes a while.
        var configuration = TestServer.configuration(ackTimeout: .seconds(20))
        configuration.pingInterval = .seconds(3_600)
        try await TestServer.with(configuration) { server in
            let slow = try await RawSocket.connect(server.wsURL)
            #expect(try await slow.login(app: TestServer.openAppID, user: "slow", token: nil) == 0)
            try await slow.send(#"{"op":"join","id":2,"channel":"firehose"}"#)
            _ = await slow.frame(where: { if case .reply = $0 { true } else { false } })
            slow.pauseReading()
            let fast = RTMClient(serverURL: server.wsURL, appID: TestServer.openAppID)
            try await fast.login(userID: "fast", token: nil)
            try await fast.channel("firehose").join()
            let payload = String(repeating: "p", count: 8_000)
            let router = server.application.router
            func slowCloses() async throws -> Int {
                let (_, metrics) = try await server.get("/metrics")
                let line = metrics.split(separator: "\n").first { $0.hasPrefix("rtm_ws_slow_consumer_closes_total ") }
                return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            }
            let before = try await slowCloses()
            var sent = 0
            // Bounded: stop once the server dropped the slow socket (or after 3,000 messages).
            while sent < 3_000 {
                _ = router.sendChannel(app: AppID(TestServer.openAppID)!, channel: ChannelName("firehose")!,
                                       from: UserID("pump")!, content: .text(payload))
                sent += 1
                if sent % 100 == 0 {
                    if try await slowCloses() > before { break }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            #expect(try await slowCloses() > before)
            #expect(sent < 3_000)
            // The fast client is still served.
            #expect(try await server.post("rtm/users/x/peer_messages?wait_for_ack=true", app: TestServer.openAppID,
                                          body: #"{"destination":"fast","payload":"ok"}"#).code == "message_delivered")
            let (_, metrics) = try await server.get("/metrics")
            #expect(metrics.contains("rtm_ws_slow_consumer_closes_total"))
        }
    }

    @Test func tokenExpiryWarnsThenAborts() async throws {
        let clock = ManualClock(startingAt: 1_800_000_000_000)
        try await TestServer.with(TestServer.configuration(), clock: clock) { server in
            let token = RTMToken.build007(appID: TestServer.appID, certificate: TestServer.certificate, userID: "short",
                                          expireSeconds: 60, issuedAt: 1_800_000_000)
            let socket = try await RawSocket.connect(server.wsURL)
            #expect(try await socket.login(app: TestServer.appID, user: "short", token: token) == 0)
            // The login timer and the token timer both sleep on the clock.
            for _ in 0..<1_000 where clock.sleeperCount < 2 { try await Task.sleep(for: .milliseconds(10)) }
            clock.advance(by: .seconds(31))
            guard case .event(_, .tokenPrivilegeWillExpire)? = await socket.nextFrame() else {
                Issue.record("no token_privilege_will_expire"); return
            }
            for _ in 0..<1_000 where clock.sleeperCount < 1 { try await Task.sleep(for: .milliseconds(10)) }
            clock.advance(by: .seconds(30))
            guard case .event(_, .connectionState(5, 9))? = await socket.nextFrame() else {
                Issue.record("no ABORTED/TOKEN_EXPIRED"); return
            }
            #expect(await socket.closeCode() == 4009)
        }
    }
}

/// The same on the real clock, whose timers are scheduled on the socket's event loop (no task), on one
/// server and on a cluster node.
@Suite struct RealClockTokenExpiryTests {
    @Test(arguments: Topology.allCases)
    func shortTokenWarnsAtOnceThenAborts(_ topology: Topology) async throws {
        try await TestServer.on(topology) { nodes in
            let server = nodes[1]
            let now = UInt32(Date().timeIntervalSince1970)
            let token = RTMToken.build007(appID: TestServer.appID, certificate: TestServer.certificate, userID: "brief",
                                          expireSeconds: 6, issuedAt: now)   // 5-6 s left: room for a slow login
            let socket = try await RawSocket.connect(server.wsURL)
            #expect(try await socket.login(app: TestServer.appID, user: "brief", token: token) == 0)
            // Expiry is under the 30-s warning lead: the warning comes at once, the abort after expiry.
            guard case .event(_, .tokenPrivilegeWillExpire)? = await socket.nextFrame() else {
                Issue.record("no token_privilege_will_expire"); return
            }
            guard case .event(_, .connectionState(5, 9))? = await socket.nextFrame(within: .seconds(15)) else {
                Issue.record("no ABORTED/TOKEN_EXPIRED"); return
            }
            #expect(await socket.closeCode() == 4009)
        }
    }
}

@Suite struct LiveTokenAndLogoutTests {
    @Test func renewTokenAndLogout() async throws {
        try await TestServer.with { server in
            let now = UInt32(Date().timeIntervalSince1970)
            let socket = try await RawSocket.connect(server.wsURL)
            #expect(try await socket.login(app: TestServer.appID, user: "renewer", token: TestServer.token(for: "renewer")) == 0)
            func renew(_ token: String, id: Int) async throws -> (Int, [String: JSONValue])? {
                try await Task.sleep(for: .milliseconds(1100))  // login and renew_token share a 2-per-second limit
                try await socket.send(#"{"op":"renew_token","id":\#(id),"token":"\#(token)"}"#)
                guard case .reply(_, let code, let fields)? = await socket.frame(where: { if case .reply = $0 { true } else { false } })
                else { return nil }
                return (code, fields)
            }
            let fresh = RTMToken.build007(appID: TestServer.appID, certificate: TestServer.certificate, userID: "renewer",
                                          expireSeconds: 7200, issuedAt: now)
            let renewed = try await renew(fresh, id: 2)
            #expect(renewed?.0 == 0)
            #expect(renewed?.1["token_expires_at"]?.intValue == Int64(now) + 7200)
            #expect(try await renew(TestServer.token(for: "someone-else"), id: 3)?.0 == 6)
            let expired = RTMToken.build007(appID: TestServer.appID, certificate: TestServer.certificate, userID: "renewer",
                                            expireSeconds: 10, issuedAt: now - 100)
            #expect(try await renew(expired, id: 4)?.0 == 5)
            try await socket.send(#"{"op":"logout","id":5}"#)
            guard case .reply(5, 0, _)? = await socket.nextFrame() else { Issue.record("logout reply"); return }
            #expect(await socket.closeCode() == 1000)
            #expect(!server.application.router.isOnline(RTMCore.UserID("renewer")!, in: RTMCore.AppID(TestServer.appID)!))
        }
    }
}

/// Dead-link detection with the per-loop pinger: a client that answers pings keeps its socket; one
/// that reads nothing (so never answers) loses it, and its session waits in the grace period.
@Suite struct PingTests {
    /// The rule, with the rounds run by the test rather than by a timer (the interval is an hour), so
    /// a slow machine cannot make the answering client look dead.
    @Test func silentSocketsAreClosedAndAnsweringOnesStay() async throws {
        var configuration = TestServer.configuration()
        configuration.pingInterval = .seconds(3600)
        try await TestServer.with(configuration) { server in
            let gateway = server.application.gateway
            let app = try #require(AppID(TestServer.openAppID))
            let alive = try await RawSocket.connect(server.wsURL)   // its WebSocket client answers pings
            #expect(try await alive.login(app: TestServer.openAppID, user: "alive", token: nil) == 0)
            let silent = try await MuteWebSocket.connect(
                port: server.port, login: #"{"op":"login","id":1,"app_id":"\#(TestServer.openAppID)","user_id":"silent"}"#)
            #expect(await waitUntil { gateway.liveSessionCount == 2 })

            #expect(try await gateway.runPingRound() == 0)            // round one: both pinged
            #expect(try await waitUntil { try await gateway.unansweredPingCount() == 1 })   // "alive" answered
            #expect(try await gateway.runPingRound() == 1)            // round two: the silent one is closed
            #expect(await waitUntil { !silent.channel.isActive })
            #expect(!gateway.hasSocket(of: UserID("silent")!, in: app))
            #expect(gateway.liveSessionCount == 2)   // the silent session is in its grace period, not ended
            #expect(try await waitUntil { try await gateway.unansweredPingCount() == 0 })   // "alive" answered round two

            // Rounds later the answering client is still connected and served.
            for _ in 0..<3 {
                #expect(try await gateway.runPingRound() == 0)
                #expect(try await waitUntil { try await gateway.unansweredPingCount() == 0 })
            }
            #expect(gateway.hasSocket(of: UserID("alive")!, in: app))
            let sent = try await server.post("rtm/users/backend/peer_messages", app: TestServer.openAppID,
                                             body: #"{"destination":"alive","payload":"still here"}"#)
            #expect(sent.code == "message_sent")
            let frame = await alive.frame { if case .event(_, .peerMessage) = $0 { true } else { false } }
            #expect(frame != nil)
        }
    }

    /// The loops' timers run the rounds: with a short interval a silent socket is closed by itself.
    @Test func theTimerClosesASilentSocket() async throws {
        var configuration = TestServer.configuration()
        configuration.pingInterval = .milliseconds(100)
        try await TestServer.with(configuration) { server in
            let silent = try await MuteWebSocket.connect(
                port: server.port, login: #"{"op":"login","id":1,"app_id":"\#(TestServer.openAppID)","user_id":"silent"}"#)
            #expect(await waitUntil { !silent.channel.isActive })   // expected after ~0.2 s
        }
    }
}

/// A WebSocket client on raw NIO that upgrades, sends one text frame, then neither reads frames nor
/// answers pings (what a dead peer behind a live TCP connection looks like).
struct MuteWebSocket {
    let channel: any Channel

    static func connect(port: Int, login: String) async throws -> MuteWebSocket {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port).get()
        var bytes = ByteBuffer(string: "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let payload = Array(login.utf8), mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        precondition(payload.count < 126)
        bytes.writeInteger(UInt8(0x81))
        bytes.writeInteger(UInt8(0x80 | payload.count))
        bytes.writeBytes(mask)
        bytes.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        try await channel.writeAndFlush(bytes).get()
        return MuteWebSocket(channel: channel)
    }
}
