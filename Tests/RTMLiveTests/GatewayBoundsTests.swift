import Foundation
import NIOCore
import RTMCore
@testable import RTMGateway
import RTMProtocol
import RTMTestSupport
import Synchronization
import Testing

/// What a client that does not read, or does not ack, can make the server hold: bounded in bytes,
/// and the socket closed on time, on a real server.
@Suite struct GatewayBoundsTests {
    static let loginFrame = RawFrameSocket.text(#"{"op":"login","id":1,"app_id":"\#(TestServer.openAppID)","user_id":"pinger"}"#)

    /// Pings of 125 bytes, masked: 131 bytes each on the wire.
    static func pings(_ count: Int, payload: UInt8 = 0x70) -> [UInt8] {
        let one = RawFrameSocket.frame(opcode: 0x9, [UInt8](repeating: payload, count: 125))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(one.count * count)
        for _ in 0..<count { bytes += one }
        return bytes
    }

    /// The value of the counter `name` on the server's `/metrics` (0 if absent).
    static func metric(_ server: TestServer, _ name: String) async throws -> Int {
        let (_, text) = try await server.get("/metrics")
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }

    /// A client that pings and never reads: the answers wait in the outbound queue (one pong, the
    /// latest), so what the server holds for the socket stays near NIO's write high-water mark
    /// instead of growing with every ping (16 MB of pings queued ~16 MB of pongs before). Its own
    /// pings, pongs and requests do not answer the server's ping: the dead-link rule closes it.
    @Test func aSocketThatPingsAndNeverReadsIsBoundedAndClosed() async throws {
        var configuration = TestServer.configuration()
        configuration.pingInterval = .seconds(3600)   // the test runs the rounds
        configuration.gateway.loginTimeout = .seconds(3600)
        try await TestServer.with(configuration) { server in
            let gateway = server.application.gateway
            let socket = try await RawFrameSocket.connect(port: server.port, reading: false)
            for _ in 0..<16 { try await socket.send(Self.pings(8_000)) }   // 16.8 MB
            try await socket.send(Self.loginFrame)
            // Frames are read in order: once the login is handled, every ping before it was answered.
            #expect(await waitUntil { gateway.liveSessionCount == 1 })
            let backlog = try await gateway.largestOutboundBacklog()
            #expect(backlog <= 256 * 1024, "the server holds \(backlog) bytes for a socket that reads nothing")

            #expect(try await gateway.runPingRound() == 0)   // pinged
            // The client keeps sending: a ping, an unsolicited pong, a request. None answers the ping.
            try await socket.send(RawFrameSocket.frame(opcode: 0x9, [1]) + RawFrameSocket.frame(opcode: 0xA, [])
                + RawFrameSocket.frame(opcode: 0xA, [0, 0, 0, 0, 0, 0, 0, 0])
                + RawFrameSocket.text(#"{"op":"join","id":2,"channel":"c"}"#))
            let app = try #require(AppID(TestServer.openAppID)), channel = try #require(ChannelName("c"))
            // The join is handled after the frames before it were read.
            #expect(await waitUntil { server.application.router.memberCounts(of: [channel], in: app)[channel] == 1 })
            #expect(try await gateway.unansweredPingCount() == 1)
            #expect(try await gateway.runPingRound() == 1)   // closed as a dead link
            #expect(await waitUntil { !gateway.hasSocket(of: UserID("pinger")!, in: app) })
        }
    }

    /// The login timeout closes the TCP connection of a socket that pings and never reads: the close
    /// frame is queued and the connection is closed `closeTimeout` later whatever happens
    /// (`closeByDeadline`). Pongs are coalesced now, so pings alone no longer make the socket
    /// unwritable, and this test does not reproduce the old stuck close (see the commit message).
    @Test func loginTimeoutClosesASocketThatReadsNothing() async throws {
        var configuration = TestServer.configuration()
        configuration.pingInterval = .seconds(3600)   // only the login deadline may close it
        configuration.gateway.loginTimeout = .seconds(1)
        configuration.gateway.closeTimeout = .milliseconds(500)
        try await TestServer.with(configuration) { server in
            let gateway = server.application.gateway
            let before = try await Self.metric(server, "rtm_ws_login_timeouts_total")
            let socket = try await RawFrameSocket.connect(port: server.port, reading: false)
            // The server may close the connection during the flood, which ends it.
            for _ in 0..<4 {
                guard (try? await socket.send(Self.pings(8_000))) != nil else { break }
            }
            #expect(await waitUntil { (try? await gateway.socketCount()) == 0 })
            #expect(try await Self.metric(server, "rtm_ws_login_timeouts_total") > before)
            socket.channel.close(promise: nil)
        }
    }

    /// A reader that never acks: its unacknowledged peer messages pass the replay bound in bytes (64 KiB
    /// here; 1,000 messages would have been kept whatever their size). The session ends: the socket is
    /// closed with 4005, `resume` answers 2, the sender waiting for an ack gets 408 at once, the
    /// messages sent with offline messaging are in the offline store for the next login, and the
    /// overflow is counted.
    @Test func replayBufferPastItsByteBoundEndsTheSession() async throws {
        let clock = ManualClock(startingAt: 1_800_000_000_000)   // no ack wait can time out by itself
        var configuration = TestServer.configuration()
        configuration.gateway.maximumUnackedPeerBytes = 64 * 1024
        try await TestServer.with(configuration, clock: clock) { server in
            // Should the bound not be reached (a failure), the ack wait would never end on the manual
            // clock and hold the server's shutdown: move the clock past it on the way out.
            defer { clock.advance(by: .seconds(3600)) }
            let app = try #require(AppID(TestServer.openAppID))
            let overflowsBefore = try await Self.metric(server, "rtm_ws_replay_overflows_total")
            let (reader, sessionID) = try await LiveResumeAndPresenceTests.login(server, "reader")
            let waitingStatus = Mutex<Int?>(nil)
            Task {
                let status = try await server.post("rtm/users/waiter/peer_messages?wait_for_ack=true", app: TestServer.openAppID,
                                                   body: #"{"destination":"reader","payload":"waits"}"#).status
                waitingStatus.withLock { $0 = status }
            }
            // The reader sees the waiting message (so the wait is registered) and does not ack it.
            _ = await reader.frame { if case .event(_, .peerMessage(_, "waiter", _, _, _)) = $0 { true } else { false } }
            let payload = String(repeating: "\u{1}", count: 1_500)   // escaped as \u0001: ~9 KB per frame
            var sent: [String] = []
            for index in 0..<12 {
                let text = "\(index)-" + payload
                let body = String(decoding: try JSONSerialization.data(withJSONObject: [
                    "destination": "reader", "payload": text, "enable_offline_messaging": true]), as: UTF8.self)
                let result = try await server.post("rtm/users/sender/peer_messages", app: TestServer.openAppID, body: body)
                #expect(result.status == 200)
                sent.append(text)
            }
            #expect(await reader.closeCode() == Int(RTMCloseCode.slowConsumer))
            #expect(await waitUntil { waitingStatus.withLock { $0 } == 408 })   // at once: the clock never moves
            #expect(try await Self.metric(server, "rtm_ws_replay_overflows_total") > overflowsBefore)
            let (_, metrics) = try await server.get("/metrics")
            #expect(metrics.contains(#"rtm_ws_limit{limit="unacked_peer_bytes"}"#))
            // Not resumable.
            let resumed = try await RawSocket.connect(server.wsURL)
            try await resumed.send(String(decoding: ClientRequest.resume(sessionID: sessionID, token: nil, lastEventSeq: 0)
                .encode(id: 7), as: UTF8.self))
            guard case .reply(7, 2, _)? = await resumed.nextFrame() else { Issue.record("resume was not rejected"); return }
            // Every message sent with offline messaging is stored (those given up, and those sent after).
            let store = server.application.stores.offline
            var stored: [StoredPeerMessage] = []
            #expect(try await waitUntil {
                stored = try await store.pending(for: UserID("reader")!, in: app, notBefore: 0)
                return stored.count == sent.count
            })
            #expect(Set(stored.compactMap { if case .text(let text) = $0.content { text } else { nil } }) == Set(sent))
        }
    }

    @Test func replayBufferValues() {
        func event(_ seq: Int64, _ bytes: Int, id: String = "") -> ReplayBuffer.Event {
            ReplayBuffer.Event(seq: seq, body: ByteBuffer(repeating: 0x61, count: bytes), messageID: id)
        }
        let limit = ReplayBuffer.Limit(events: 3, bytes: 100)
        var peer = ReplayBuffer()
        let result1 = peer.append(event(1, 40, id: "a"), within: limit)
        #expect(result1)
        let result2 = peer.append(event(2, 40, id: "b"), within: limit)
        #expect(result2)
        let result3 = peer.append(event(3, 30, id: "c"), within: limit)   // 110 bytes
        #expect(!result3)
        peer.remove(messageID: "b")
        #expect(peer.bytes == 70 && peer.events.map(\.seq) == [1, 3])
        let result4 = peer.append(event(4, 30), within: limit)   // 100 bytes, 3 events
        #expect(result4)
        let result5 = peer.append(event(5, 0), within: limit)   // 4 events
        #expect(!result5)
        let taken = peer.takeAll()
        #expect(taken.count == 4 && peer.bytes == 0 && peer.isEmpty)

        var ring = ReplayBuffer()
        let result6 = ring.appendDroppingOldest(event(1, 40), within: limit)
        #expect(result6 == 0)
        let result7 = ring.appendDroppingOldest(event(2, 40), within: limit)
        #expect(result7 == 0)
        let result8 = ring.appendDroppingOldest(event(3, 10), within: limit)
        #expect(result8 == 0)
        let result9 = ring.appendDroppingOldest(event(4, 10), within: limit)   // turn-over at 3 events
        #expect(result9 == 0)
        #expect(ring.events.map(\.seq) == [2, 3, 4] && ring.bytes == 60)
        // 2 goes for the event bound, then 3 for the bytes (105 > 100).
        let result10 = ring.appendDroppingOldest(event(5, 85), within: limit)
        #expect(result10 == 1)
        #expect(ring.events.map(\.seq) == [4, 5] && ring.bytes == 95)
        let result11 = ring.appendDroppingOldest(event(6, 500), within: limit)   // alone over the bound: kept alone
        #expect(result11 == 2)
        #expect(ring.events.map(\.seq) == [6])
    }

    @Test func pongsCountAgainstTheQueueBound() {
        let queue = OutboundQueue(maximumFrames: 2, maximumBytes: 200)
        #expect(queue.pushPong(ByteBuffer(repeating: 1, count: 125)) == .queued)
        #expect(queue.pushPong(ByteBuffer(repeating: 2, count: 100)) == .queued)   // replaces the first
        #expect(queue.heldBytes == 100)
        #expect(queue.pushFrame(ByteBuffer(repeating: 3, count: 100)) == .queued)
        #expect(queue.pushFrame(ByteBuffer(repeating: 4, count: 1)) == .overflowed)   // 3 frames
        let other = OutboundQueue(maximumFrames: 10, maximumBytes: 200)
        #expect(other.pushFrame(ByteBuffer(repeating: 3, count: 150)) == .queued)
        #expect(other.pushPong(ByteBuffer(repeating: 1, count: 60)) == .overflowed)   // 210 bytes
        let batch = OutboundQueue(maximumFrames: 10, maximumBytes: 200)
        _ = batch.pushPong(ByteBuffer(repeating: 9, count: 4))
        let taken = batch.take()
        #expect(taken.pong == ByteBuffer(repeating: 9, count: 4) && taken.items.isEmpty && batch.heldBytes == 0)
    }
}
