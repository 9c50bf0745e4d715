import NIOCore
import NIOPosix
import RTMCore
import RTMProtocol
import RTMTestSupport
import Testing

/// What a client sees first, and what an acknowledgement removes, on a real server.
@Suite struct SessionOrderingTests {
    /// Two logins of one user race: each socket's first frame is its login reply (the one kicked then
    /// gets `connection_state` 5/8 and close 4008), never the kick or another event before it.
    @Test func racingLoginsEachGetTheirReplyFirst() async throws {
        try await TestServer.with { server in
            for round in 0..<50 {
                let user = "racer-\(round)"
                let first = try await RawSocket.connect(server.wsURL)
                let second = try await RawSocket.connect(server.wsURL)
                let login = String(decoding: ClientRequest.login(appID: TestServer.openAppID, userID: user, token: nil).encode(id: 1),
                                   as: UTF8.self)
                async let sentFirst: Void = first.send(login)
                async let sentSecond: Void = second.send(login)
                _ = try await (sentFirst, sentSecond)
                for socket in [first, second] {
                    let frame = await socket.nextFrame()
                    guard case .reply(1, 0, _)? = frame else {
                        Issue.record("round \(round): the first frame was \(String(describing: frame)), not the login reply")
                        return
                    }
                }
                first.close()
                second.close()
            }
        }
    }

    /// Peer messages to a user keep coming (a REST publisher on another event loop, pipelined) while
    /// the user logs in 50 times: each login's first frame is its reply. Before, the session was
    /// registered with the router before the reply was queued, and a message landing in between came
    /// first.
    @Test func messagesSentDuringALoginComeAfterItsReply() async throws {
        let floodApp = "f100df100df100df100df100df100d00"
        var configuration = TestServer.configuration()
        configuration.apps.append(.init(appID: floodApp, appCertificate: nil, messagingRateLimit: 100_000_000))
        try await TestServer.with(configuration) { server in
            let body = #"{"destination":"flooded","payload":"now"}"#
            let request = "POST /dev/v2/project/\(floodApp)/rtm/users/flooder/peer_messages HTTP/1.1\r\nHost: t\r\n"
                + "Authorization: \(TestServer.basicAuthorization)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            let batch = String(repeating: request, count: 64)
            let publisher = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Discard()) }
                }
                .connect(host: "127.0.0.1", port: server.port).get()
            let flood = Task {
                for _ in 0..<1_000_000 where !Task.isCancelled {
                    guard (try? await publisher.writeAndFlush(ByteBuffer(string: batch))) != nil else { return }
                }
            }
            defer {
                flood.cancel()
                publisher.close(promise: nil)
            }
            let login = String(decoding: ClientRequest.login(appID: floodApp, userID: "flooded", token: nil).encode(id: 1), as: UTF8.self)
            for round in 0..<50 {
                let socket = try await RawSocket.connect(server.wsURL)
                try await socket.send(login)
                let frame = await socket.nextFrame()
                socket.close()
                guard case .reply(1, 0, _)? = frame else {
                    Issue.record("round \(round): the first frame was \(String(describing: frame)), not the login reply")
                    return
                }
            }
        }
    }

    /// A receiver that logs out without acknowledging: its sender's `wait_for_ack` is answered 408, and
    /// the message (sent with offline messaging) is delivered again, `offline`, at its next login.
    /// Before, the message was dropped with the session.
    @Test func messagesALogoutLeavesUnacknowledgedAreStoredForTheNextLogin() async throws {
        // An ack timeout longer than the HTTP client waits: the 408 can only come from the logout.
        try await TestServer.with(TestServer.configuration(ackTimeout: .seconds(60))) { server in
            let (receiver, _) = try await LiveResumeAndPresenceTests.login(server, "forgetful")
            let body = #"{"destination":"forgetful","payload":"keep me","enable_offline_messaging":true}"#
            async let answer = server.post("rtm/users/backend/peer_messages?wait_for_ack=true", app: TestServer.openAppID, body: body)
            guard case .event(_, .peerMessage(_, _, .text("keep me"), _, false))? = await receiver.frame(where: {
                if case .event(_, .peerMessage) = $0 { true } else { false }
            }) else { Issue.record("the message was not delivered live"); return }
            try await receiver.send(#"{"op":"logout","id":5}"#)   // no ack
            #expect(try await answer.status == 408)
            receiver.close()
            let (again, _) = try await LiveResumeAndPresenceTests.login(server, "forgetful")
            guard case .event(_, .peerMessage(_, _, .text("keep me"), _, true))? = await again.frame(where: {
                if case .event(_, .peerMessage) = $0 { true } else { false }
            }) else { Issue.record("the unacknowledged message was not stored for the next login"); return }
        }
    }

    /// Reads and drops whatever the server answers.
    final class Discard: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }

    /// A stored (offline) message delivered at login, seen but not acked, then acknowledged by a
    /// `resume` past its `seq`: it leaves the offline store (it was delivered again at the next fresh
    /// login before).
    @Test func resumeImplicitAckDeletesTheStoredCopy() async throws {
        try await TestServer.with { server in
            let app = try #require(AppID(TestServer.openAppID))
            let body = #"{"destination":"returner","payload":"kept","enable_offline_messaging":true}"#
            #expect(try await server.post("rtm/users/backend/peer_messages", app: TestServer.openAppID, body: body).code == "message_offline")
            let (socket, sessionID) = try await LiveResumeAndPresenceTests.login(server, "returner")
            guard case .event(let seq?, .peerMessage(_, _, .text("kept"), _, true))? = await socket.frame(where: {
                if case .event(_, .peerMessage) = $0 { true } else { false }
            }) else { Issue.record("the stored message was not delivered"); return }
            socket.close()   // no ack; the socket drops without logout
            #expect(await socket.closeCode() != nil)
            let resumed = try await RawSocket.connect(server.wsURL)
            try await resumed.send(String(decoding: ClientRequest.resume(sessionID: sessionID, token: nil, lastEventSeq: seq)
                .encode(id: 7), as: UTF8.self))
            guard case .reply(7, 0, _)? = await resumed.nextFrame() else { Issue.record("resume failed"); return }
            let store = server.application.stores.offline
            #expect(try await waitUntil { try await store.pending(for: UserID("returner")!, in: app, notBefore: 0).isEmpty })
        }
    }
}
