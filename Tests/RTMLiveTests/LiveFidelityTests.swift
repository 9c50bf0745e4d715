import Foundation
import RTMClient
import RTMCore
import RTMProtocol
import RTMTestSupport
import Testing

/// Payload fidelity through a real server, on SQLite and PostgreSQL: every sample of
/// ``FidelitySamples`` (U+0000, controls, astral characters, the longest payload) comes back byte for
/// byte by live delivery (REST and SDK, peer and channel), from the offline store at the next login,
/// from the history API, and in user and channel attributes; names with every allowed symbol come back
/// from the event feeds. Requests over the 64 KiB limit are refused; requests at it are not.
@Suite struct LiveFidelityTests {
    static let backends: [StoreBackend] = [.sqlite, .postgres]
    static let app = TestServer.openAppID

    /// A hand-written body part using every JSON escape form, and what it decodes to.
    static let escapedJSON = #"\/\b\f\n\r\t\"\\\u0000\u001f\u00e9\u4e2d\ud83d\ude00"#
    static let escapedText = "/\u{8}\u{C}\n\r\t\"\\\u{0}\u{1F}é中😀"

    /// The samples sent by each path: every fidelity sample, then the hand-escaped one.
    static let expected: [[UInt8]] = FidelitySamples.all.map { Array($0.utf8) } + [Array(escapedText.utf8)]

    static func client(_ server: TestServer, _ user: String) async throws -> RTMClient {
        let client = RTMClient(serverURL: server.wsURL, appID: app)
        try await client.login(userID: user, token: nil)
        return client
    }

    /// A send body written by the protocol's JSON writer, or with the hand-escaped payload when `payload` is nil.
    static func body(_ destinationField: String, _ destination: String, _ payload: String?, flags: [String]) -> String {
        var writer = JSONWriter()
        writer.field(destinationField, destination)
        for flag in flags { writer.field(flag, true) }
        guard let payload else {
            let head = String(decoding: writer.bytes, as: UTF8.self)
            return head + #","payload":""# + escapedJSON + #""}"#
        }
        writer.field("payload", payload)
        return String(decoding: writer.finish(), as: UTF8.self)
    }

    /// Posts every sample (and the hand-escaped one) to the peer or channel route as `from`.
    static func postAll(_ server: TestServer, from: String, peer: String? = nil, channel: String? = nil, flags: [String]) async throws {
        let payloads: [String?] = FidelitySamples.all + [nil]
        for payload in payloads {
            let path = peer == nil ? "rtm/users/\(from)/channel_messages" : "rtm/users/\(from)/peer_messages"
            let text = peer.map { body("destination", $0, payload, flags: flags) } ?? body("channel_name", channel!, payload, flags: flags)
            let result = try await server.post(path, app: app, body: text)
            #expect(result.status == 200, "\(result.json)")
        }
    }

    /// The hand-escaped sample sent as a client frame by a raw socket.
    static func sendEscapedFrame(_ socket: RawSocket, id: Int, peer: String? = nil, channel: String? = nil, offline: Bool = false,
                                 history: Bool = false) async throws {
        let target = if let peer { #""op":"send_peer","to":"\#(peer)","offline":\#(offline)"# } else {
            #""op":"send_channel","channel":"\#(channel!)""#
        }
        try await socket.send(#"{"id":\#(id),\#(target),"history":\#(history),"text":"\#(escapedJSON)"}"#)
        guard case .reply(_, let code, _)? = await socket.frame(where: { if case .reply = $0 { true } else { false } }) else {
            Issue.record("no reply to the escaped frame")
            return
        }
        #expect(code == (offline ? 4 : 0), "sent, or cached for an offline peer")
    }

    /// The history of `source` as the REST API returns it, oldest first.
    static func history(_ server: TestServer, source: String) async throws -> [[UInt8]] {
        let query = try await server.post("rtm/message/history/query", app: app, body: """
            {"filter":{"source":"\(source)","start_time":"2000-01-01T00:00:00Z","end_time":"2100-01-01T00:00:00Z"},"limit":100}
            """)
        let handle = try #require((query.json["location"] as? String)?.split(separator: "/").last)
        let result = try await LivePersistenceTests.get(server, "rtm/message/history/query/\(handle)", app: app)
        #expect(result.status == 200)
        return (result.json["messages"] as? [[String: Any]] ?? []).map { Array(($0["payload"] as? String ?? "").utf8) }
    }

    /// Waits (bounded) until `count` history records of `source` are stored.
    static func waitForHistory(_ server: TestServer, source: String, count: Int) async throws {
        let filter = HistoryFilter(source: source, destination: nil, start: 0, end: .max)
        #expect(try await waitUntil { try await server.application.stores.history.count(filter, in: AppID(app)!) >= count })
    }

    @Test(arguments: backends)
    func liveDeliveryAndHistoryKeepEveryByte(_ backend: StoreBackend) async throws {
        try await TestServer.with(backend: backend) { server in
            let bob = try await Self.client(server, "bob")
            let room = bob.channel("room")
            try await room.join()
            let expectedCount = Self.expected.count
            let history = ["enable_historical_messaging"]

            // REST peer: the fast path (no flags) and the regular route (history), then SDK and raw frames.
            for flags in [[], history] {
                try await Self.postAll(server, from: "rest", peer: "bob", flags: flags)
                let received = await collect(bob.peerMessages, count: expectedCount)
                #expect(received.map { Array(($0.text ?? "").utf8) } == Self.expected, "REST peer, flags \(flags)")
            }
            let alice = try await Self.client(server, "alice")
            for sample in FidelitySamples.all {
                #expect(await alice.sendMessage(.text(sample), toPeer: "bob", options: SendMessageOptions(enableHistoricalMessaging: true))
                    .code == .ok)
            }
            let frames = try await RawSocket.connect(server.wsURL)
            #expect(try await frames.login(app: Self.app, user: "frames", token: nil) == 0)
            try await Self.sendEscapedFrame(frames, id: 2, peer: "bob", history: true)
            let fromSDK = await collect(bob.peerMessages, count: expectedCount)
            #expect(fromSDK.map { Array(($0.text ?? "").utf8) }.dropLast() == Self.expected.dropLast(), "SDK send_peer")
            #expect(fromSDK.last.map { Array(($0.text ?? "").utf8) } == Self.expected.last, "client frame with every escape")

            // Channel: REST (fast path and regular route), SDK and raw frame.
            for flags in [[], history] {
                try await Self.postAll(server, from: "restchannel", channel: "room", flags: flags)
                let received = await collect(room.events, count: expectedCount, where: { if case .message = $0 { true } else { false } })
                #expect(received.map(Self.text) == Self.expected, "REST channel, flags \(flags)")
            }
            let aliceRoom = alice.channel("room")
            try await aliceRoom.join()
            for sample in FidelitySamples.all { try await aliceRoom.send(.text(sample), history: true) }
            try await frames.send(#"{"op":"join","id":3,"channel":"room"}"#)
            _ = await frames.frame(where: { if case .reply(3, _, _) = $0 { true } else { false } })
            try await Self.sendEscapedFrame(frames, id: 4, channel: "room", history: true)
            let channelMessages = await collect(room.events, count: expectedCount, where: { if case .message = $0 { true } else { false } })
            #expect(channelMessages.map(Self.text) == Self.expected, "SDK and frame channel sends")

            // History keeps what was flagged, byte for byte.
            try await Self.waitForHistory(server, source: "rest", count: expectedCount)
            try await Self.waitForHistory(server, source: "restchannel", count: expectedCount)
            try await Self.waitForHistory(server, source: "alice", count: 2 * FidelitySamples.all.count)
            try await Self.waitForHistory(server, source: "frames", count: 2)
            #expect(try await Self.history(server, source: "rest") == Self.expected)
            #expect(try await Self.history(server, source: "restchannel") == Self.expected)
            let samples = FidelitySamples.all.map { Array($0.utf8) }
            #expect(try await Self.history(server, source: "alice") == samples + samples)
            #expect(try await Self.history(server, source: "frames") == [Self.expected.last!, Self.expected.last!])
        }
    }

    static func text(_ event: RTMChannelEvent) -> [UInt8] {
        if case .message(_, .text(let text), _, _) = event { Array(text.utf8) } else { [] }
    }

    @Test(arguments: backends)
    func offlineMessagesComeBackByteForByte(_ backend: StoreBackend) async throws {
        try await TestServer.with(backend: backend) { server in
            try await Self.postAll(server, from: "rest", peer: "later", flags: ["enable_offline_messaging"])
            let alice = try await Self.client(server, "alice")
            let offline = SendMessageOptions(enableOfflineMessaging: true)
            // A raw message counts its data and description against 32 KB: the longest description is 3 bytes shorter.
            let descriptions = FidelitySamples.short + [FidelitySamples.long(32_765)]
            for (sample, description) in zip(FidelitySamples.all, descriptions) {
                #expect(await alice.sendMessage(.text(sample), toPeer: "later", options: offline).code == .cachedByServer)
                #expect(await alice.sendMessage(.raw(Data([0, 1, 255]), description: description), toPeer: "later", options: offline).code
                    == .cachedByServer)
            }
            let frames = try await RawSocket.connect(server.wsURL)
            #expect(try await frames.login(app: Self.app, user: "frames", token: nil) == 0)
            try await Self.sendEscapedFrame(frames, id: 2, peer: "later", offline: true)

            let total = Self.expected.count + 2 * FidelitySamples.all.count + 1
            let later = try await Self.client(server, "later")
            let received = await collect(later.peerMessages, count: total)
            #expect(received.count == total && received.allSatisfy(\.isOffline))
            let fromREST = received.prefix(Self.expected.count).map { Array(($0.text ?? "").utf8) }
            #expect(fromREST == Self.expected, "REST with enable_offline_messaging")
            let fromSDK = received.dropFirst(Self.expected.count).prefix(2 * FidelitySamples.all.count)
            #expect(fromSDK.enumerated().filter { $0.offset % 2 == 0 }.map { Array(($0.element.text ?? "").utf8) }
                == FidelitySamples.all.map { Array($0.utf8) }, "SDK text")
            let receivedDescriptions = fromSDK.enumerated().filter { $0.offset % 2 == 1 }.map { element -> [UInt8] in
                guard case .raw(let base64, let description) = element.element.payload else { return [] }
                #expect(Data(base64Encoded: base64) == Data([0, 1, 255]))
                return Array((description ?? "").utf8)
            }
            #expect(receivedDescriptions == descriptions.map { Array($0.utf8) }, "SDK raw descriptions")
            #expect(received.last.map { Array(($0.text ?? "").utf8) } == Self.expected.last, "client frame with every escape")
        }
    }

    @Test(arguments: backends)
    func attributesKeepEveryByte(_ backend: StoreBackend) async throws {
        try await TestServer.with(backend: backend) { server in
            let alice = try await Self.client(server, "alice")
            let bob = try await Self.client(server, "bob")
            // Keys: printable ASCII (the key rule), JSON's escape characters among them; values: the short samples.
            let keys = [#"k"q"#, #"k\b"#, "k/s", "k{}[]", "k~!#$%&'()*+,-.:;<=>?@^_`|"] + (0..<5).map { "key\($0)" }
            let attributes = zip(keys, FidelitySamples.short).map { RTMAttribute(key: $0, value: $1) }
                + [RTMAttribute(key: "longest", value: FidelitySamples.long(8_192))]
            func bytes(_ list: [RTMAttribute]) -> [[UInt8]] { list.sorted { $0.key < $1.key }.flatMap { [Array($0.key.utf8), Array($0.value.utf8)] } }
            try await alice.setLocalUserAttributes(attributes)
            let userAttributes = try await bob.getUserAttributes("alice")
            #expect(bytes(userAttributes) == bytes(attributes), "user attributes")

            let room = bob.channel("room")
            try await room.join()
            try await alice.setChannelAttributes("room", attributes, notify: true)
            guard case .attributesUpdated(let notified)? = await first(room.events, where: {
                if case .attributesUpdated = $0 { true } else { false }
            }) else { Issue.record("no attribute notification"); return }
            let values = { (list: [ChannelAttributeValue]) in bytes(list.map { RTMAttribute(key: $0.key, value: $0.value) }) }
            #expect(values(notified) == bytes(attributes), "channel attributes as notified")
            let channelAttributes = try await bob.getChannelAttributes("room")
            #expect(values(channelAttributes) == bytes(attributes), "channel attributes as read")
        }
    }

    @Test(arguments: backends)
    func eventFeedsKeepNamesWithEverySymbol(_ backend: StoreBackend) async throws {
        try await TestServer.with(backend: backend) { server in
            let user = "~!#$%&()+-:;<=.>?@[]^_{}|,' Az09", channel = "c ~!#$%&()+-:;<=.>?@[]^_{}|,'"
            let client = try await Self.client(server, user)
            try await client.channel(channel).join()
            try await client.channel(channel).leave()
            await client.logout()
            let users = try await LivePersistenceTests.get(server, "rtm/vendor/user_events", app: Self.app)
            #expect((users.json["events"] as? [[String: Any]])?.map { $0["user_id"] as? String } == [user, user])
            let channels = try await LivePersistenceTests.get(server, "rtm/vendor/channel_events", app: Self.app)
            let events = try #require(channels.json["events"] as? [[String: Any]])
            #expect(events.map { $0["group_id"] as? String } == [channel, channel] && events.map { $0["user_id"] as? String } == [user, user])
        }
    }

    /// A REST body or client frame of exactly 64 KiB is taken and its payload delivered and stored byte for
    /// byte; one byte more is refused (413, close 1009), and so is a payload within 32 KB whose encoding is
    /// larger. The event the server sends for the largest frame is larger than 64 KiB, and the SDK reads it.
    @Test func theLimitHoldsOnBothSidesOfTheBoundary() async throws {
        try await TestServer.with { server in
            let bob = try await Self.client(server, "bob")
            /// A send of exactly `total` bytes whose payload is 10,000 escaped NULs and then `x`s.
            func message(_ total: Int, head: String, tail: String) -> (String, [UInt8]) {
                let nuls = 10_000, padding = total - head.utf8.count - tail.utf8.count - 6 * nuls
                let encoded = head + String(repeating: #"\u0000"#, count: nuls) + String(repeating: "x", count: padding) + tail
                return (encoded, Array((String(repeating: "\u{0}", count: nuls) + String(repeating: "x", count: padding)).utf8))
            }
            let restHead = #"{"destination":"bob","enable_historical_messaging":true,"enable_offline_messaging":true,"payload":""#
            let (atLimit, payload) = message(65_536, head: restHead, tail: #""}"#)
            #expect(atLimit.utf8.count == 65_536 && payload.count <= 32_768)
            #expect(try await server.post("rtm/users/rest/peer_messages", app: Self.app, body: atLimit).status == 200)
            #expect(await collect(bob.peerMessages, count: 1).map { Array(($0.text ?? "").utf8) } == [payload])
            try await Self.waitForHistory(server, source: "rest", count: 1)
            #expect(try await Self.history(server, source: "rest") == [payload])
            let over = try await server.post("rtm/users/rest/peer_messages", app: Self.app, body: message(65_537, head: restHead, tail: #""}"#).0)
            #expect(over.status == 413 && over.code == "payload_too_large")
            let escapedNULs = #"{"destination":"bob","payload":""# + String(repeating: #"\u0000"#, count: 32_768) + #""}"#
            #expect(try await server.post("rtm/users/rest/peer_messages", app: Self.app, body: escapedNULs).status == 413,
                    "32 KB of payload, 192 KiB of body")

            // Client frames: the sender's id is long, so the event (which names the sender) outgrows the request.
            let senderID = String(repeating: "s", count: 64)
            let sender = try await RawSocket.connect(server.wsURL)
            #expect(try await sender.login(app: Self.app, user: senderID, token: nil) == 0)
            let watcher = try await RawSocket.connect(server.wsURL)
            #expect(try await watcher.login(app: Self.app, user: "watcher", token: nil) == 0)
            let (frame, framePayload) = message(65_536, head: #"{"op":"send_peer","id":2,"to":"watcher","text":""#, tail: #""}"#)
            try await sender.send(frame)
            let event = try #require(await watcher.next())
            #expect(event.utf8.count > 65_536, "the server's frame is larger than a client's may be")
            guard case .event(_, .peerMessage(let messageID, senderID, .text(let text), _, _))? = ServerFrame.parse(event.utf8) else {
                Issue.record("expected the peer message")
                return
            }
            #expect(Array(text.utf8) == framePayload)
            try await watcher.send(String(decoding: ClientRequest.ack(messageID: messageID).encode(id: 0), as: UTF8.self))
            guard case .reply(2, 0, _)? = await sender.frame(where: { if case .reply = $0 { true } else { false } }) else {
                Issue.record("the frame at the limit was not answered 0")
                return
            }
            // The SDK reads such a frame too.
            let (toBob, toBobPayload) = message(65_536, head: #"{"op":"send_peer","id":3,"to":"bob","text":""#, tail: #""}"#)
            try await sender.send(toBob)
            let fromSender = await collect(bob.peerMessages, count: 1).map { Array(($0.text ?? "").utf8) }
            #expect(fromSender.count == 1 && fromSender == [toBobPayload])
            try? await sender.send(message(65_537, head: #"{"op":"send_peer","id":4,"to":"watcher","text":""#, tail: #""}"#).0)
            #expect(await sender.closeCode() == 1009)
        }
    }
}
