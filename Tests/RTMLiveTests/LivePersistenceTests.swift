import Foundation
import RTMClient
import RTMCore
import RTMTestSupport
import Testing

/// Offline messages, history and event feeds through the REST API and the SDK, on SQLite and PostgreSQL.
@Suite struct LivePersistenceTests {
    static let backends: [StoreBackend] = [.sqlite, .postgres]

    static func client(_ server: TestServer, _ user: String) async throws -> RTMClient {
        let client = RTMClient(serverURL: server.wsURL, appID: TestServer.appID)
        try await client.login(userID: user, token: TestServer.token(for: user))
        return client
    }

    static func get(_ server: TestServer, _ path: String, app: String = TestServer.appID) async throws -> HTTPResult {
        var request = HTTPClientRequestBuilder.get("\(server.baseURL)/dev/v2/project/\(app)/\(path)")
        request.headers.add(name: "Authorization", value: TestServer.basicAuthorization)
        return try await HTTPClientRequestBuilder.run(request)
    }

    @Test(arguments: backends)
    func offlineMessagesAreStoredAndDeliveredInOrderOnce(_ backend: StoreBackend) async throws {
        try await TestServer.with(backend: backend) { server in
            for index in 1...5 {
                let body = #"{"destination":"later","payload":"m\#(index)","enable_offline_messaging":true}"#
                let result = try await server.post("rtm/users/backend/peer_messages", body: body)
                #expect(result.code == "message_offline" && result.json["result"] as? String == "success")
            }
            // Not stored without the flag.
            _ = try await server.peer(from: "backend", to: "later", payload: "not kept")
            let sender = try await Self.client(server, "sender")
            #expect(await sender.sendMessage("m6", toPeer: "later", options: SendMessageOptions(enableOfflineMessaging: true)).code
                == .cachedByServer)
            #expect(await sender.sendMessage("lost", toPeer: "later").code == .peerUnreachable)

            let later = try await Self.client(server, "later")
            let received = await collect(later.peerMessages, count: 6)
            #expect(received.map { $0.text ?? "" } == ["m1", "m2", "m3", "m4", "m5", "m6"])
            #expect(received.allSatisfy { $0.isOffline })
            #expect(received.first?.from == "backend" && received.last?.from == "sender")
            // Acked, so deleted: a new login gets nothing more.
            let store = server.application.stores.offline
            for _ in 0..<200 {
                if try await store.pending(for: UserID("later")!, in: AppID(TestServer.appID)!, notBefore: 0).isEmpty { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await store.pending(for: UserID("later")!, in: AppID(TestServer.appID)!, notBefore: 0).isEmpty)
            await later.logout()
            let again = try await Self.client(server, "later")
            #expect(await first(again.peerMessages, within: .milliseconds(500)) == nil)
        }
    }

    @Test(arguments: backends)
    func offlineStoreKeepsTheNewest200AndExpires(_ backend: StoreBackend) async throws {
        let clock = ManualClock(startingAt: 1_800_000_000_000)
        var configuration = TestServer.configuration()
        configuration.offlineRetention = .seconds(7 * 86_400)
        try await TestServer.with(configuration, clock: clock, backend: backend) { server in
            for index in 1...205 {
                let body = #"{"destination":"away","payload":"n\#(index)","enable_offline_messaging":true}"#
                #expect(try await server.post("rtm/users/backend/peer_messages", app: TestServer.openAppID, body: body).status == 200)
            }
            let pending = try await server.application.stores.offline.pending(for: UserID("away")!, in: AppID(TestServer.openAppID)!,
                                                                               notBefore: 0)
            #expect(pending.map { if case .text(let text) = $0.content { text } else { "" } } == (6...205).map { "n\($0)" })
            clock.advance(by: .seconds(7 * 86_400 + 1))
            let body = #"{"destination":"away","payload":"fresh","enable_offline_messaging":true}"#
            #expect(try await server.post("rtm/users/backend/peer_messages", app: TestServer.openAppID, body: body).status == 200)
            let store = server.application.stores.offline
            func remaining() async throws -> [StoredPeerMessage] {
                try await store.pending(for: UserID("away")!, in: AppID(TestServer.openAppID)!, notBefore: 0)
            }
            for _ in 0..<1_000 where try await remaining().count != 1 {
                try await server.application.sweeper.sweep()   // the background sweeper may get there first
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await remaining().map(\.content) == [.text("fresh")], "expired after 7 days; the newer one stays")
        }
    }

    @Test(arguments: backends)
    func historyQueryGetAndCount(_ backend: StoreBackend) async throws {
        let clock = ManualClock(startingAt: 1_564_622_530_000)  // 2019-08-01T01:22:10Z
        try await TestServer.with(TestServer.configuration(), clock: clock, backend: backend) { server in
            func send(_ path: String, _ body: String) async throws {
                #expect(try await server.post(path, app: TestServer.openAppID, body: body).status == 200)
                clock.advance(by: .seconds(1))
            }
            try await send("rtm/users/userA/peer_messages", #"{"destination":"userB","payload":"one","enable_historical_messaging":true}"#)
            try await send("rtm/users/userA/peer_messages", #"{"destination":"userB","payload":"not kept"}"#)
            try await send("rtm/users/userA/channel_messages", #"{"channel_name":"lobby","payload":"two","enable_historical_messaging":true}"#)
            try await send("rtm/users/userC/peer_messages", #"{"destination":"userB","payload":"three","enable_historical_messaging":true}"#)
            func query(_ body: String) async throws -> HTTPResult {
                try await server.post("rtm/message/history/query", app: TestServer.openAppID, body: body)
            }
            let created = try await query(#"{"filter":{"source":"userA","start_time":"2019-08-01T01:22:10Z","end_time":"2019-08-01T01:32:10Z"},"order":"desc"}"#)
            #expect(created.status == 200 && created.json["limit"] as? Int == 20 && created.json["offset"] as? Int == 0)
            let location = try #require(created.json["location"] as? String)
            #expect(location.hasPrefix("~/rtm/message/history/query/"))
            let handle = String(location.dropFirst("~/rtm/message/history/query/".count))
            let result = try await Self.get(server, "rtm/message/history/query/\(handle)", app: TestServer.openAppID)
            #expect(result.status == 200 && result.code == "ok")
            let messages = try #require(result.json["messages"] as? [[String: Any]])
            #expect(messages.map { $0["payload"] as? String } == ["two", "one"])
            #expect(messages.first?["message_type"] as? String == "channel_message" && messages.first?["dst"] as? String == "lobby")
            #expect(messages.last?["src"] as? String == "userA" && (messages.last?["ms"] as? Int) == 1_564_622_530_000)
            #expect(try await Self.get(server, "rtm/message/history/query/\(handle)", app: TestServer.openAppID).status == 410, "single use")
            #expect(try await Self.get(server, "rtm/message/history/query/nope", app: TestServer.openAppID).code == "gone")

            let toB = try await query(#"{"filter":{"destination":"userB","start_time":"2019-08-01T01:22:10Z","end_time":"2019-08-01T01:32:10Z"},"offset":1}"#)
            let toBHandle = String((toB.json["location"] as? String ?? "").split(separator: "/").last ?? "")
            let toBMessages = try await Self.get(server, "rtm/message/history/query/\(toBHandle)", app: TestServer.openAppID)
            #expect((toBMessages.json["messages"] as? [[String: Any]])?.map { $0["payload"] as? String } == ["three"])

            let expiring = try await query(#"{"filter":{"source":"userA","start_time":"2019-08-01T01:22:10Z","end_time":"2019-08-01T01:32:10Z"}}"#)
            clock.advance(by: .seconds(301))
            let expiredHandle = String((expiring.json["location"] as? String ?? "").split(separator: "/").last ?? "")
            #expect(try await Self.get(server, "rtm/message/history/query/\(expiredHandle)", app: TestServer.openAppID).status == 410)

            let count = try await Self.get(server, #"rtm/message/history/count?source=%22userA%22&destination=%22userB%22&start_time=2019-08-01T01:22:10Z&end_time=2019-08-01T01:24:10Z"#,
                                           app: TestServer.openAppID)
            #expect(count.status == 200 && count.json["count"] as? Int == 1 && count.code == "ok")
            for bad in [#"{"filter":{"start_time":"2019-08-01T01:22:10Z","end_time":"2019-08-01T01:32:10Z"}}"#,
                        #"{"filter":{"source":"userA","start_time":"2019-08-01 01:22:10","end_time":"2019-08-01T01:32:10Z"}}"#,
                        #"{"filter":{"source":"userA","start_time":"2019-08-01T01:22:10Z","end_time":"2019-08-01T01:32:10Z"},"limit":30}"#,
                        #"{"filter":{"source":"userA","start_time":"2019-08-01T01:22:10Z","end_time":"2019-08-01T01:32:10Z"},"order":"up"}"#,
                        #"{"offset":0}"#] {
                #expect(try await query(bad).status == 400, "\(bad)")
            }
            // Retention: history older than the app's 7 days is swept (by the background sweeper or this call); newer stays.
            clock.advance(by: .seconds(8 * 86_400))
            try await send("rtm/users/userA/peer_messages", #"{"destination":"userB","payload":"fresh","enable_historical_messaging":true}"#)
            let everything = HistoryFilter(source: "userA", destination: nil, start: 0, end: .max)
            let history = server.application.stores.history
            for _ in 0..<1_000 where try await history.count(everything, in: AppID(TestServer.openAppID)!) != 1 {
                try await server.application.sweeper.sweep()
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await history.query(everything, in: AppID(TestServer.openAppID)!, ascending: true, offset: 0, limit: 20)
                .map(\.payload) == ["fresh"])
        }
    }

    @Test(arguments: backends)
    func eventFeedsAreDestructiveAndBounded(_ backend: StoreBackend) async throws {
        try await TestServer.with(backend: backend) { server in
            let alice = try await Self.client(server, "alice")
            try await alice.channel("room").join()
            try await alice.channel("room").leave()
            await alice.logout()
            let users = try await Self.get(server, "rtm/vendor/user_events")
            #expect(users.status == 200 && users.json["result"] as? String == "success")
            let userEvents = try #require(users.json["events"] as? [[String: Any]])
            #expect(userEvents.map { $0["type"] as? String } == ["Login", "Logout"])
            #expect(userEvents.allSatisfy { $0["user_id"] as? String == "alice" && ($0["ms"] as? Int ?? 0) > 0 })
            let channels = try await Self.get(server, "rtm/vendor/channel_events")
            let channelEvents = try #require(channels.json["events"] as? [[String: Any]])
            #expect(channelEvents.map { $0["type"] as? String } == ["Join", "Leave"])
            #expect(channelEvents.allSatisfy { $0["group_id"] as? String == "room" })
            #expect((try await Self.get(server, "rtm/vendor/user_events").json["events"] as? [Any])?.isEmpty == true, "destructive")

            // 1,500 logins and logouts: 3,000 events, 2,000 kept, 1,000 per reply.
            let router = server.application.router
            for index in 0..<1_500 {
                let session = RouterSession(appID: AppID(TestServer.appID)!, userID: UserID("bulk\(index)")!, sessionID: "b\(index)",
                                            sink: RecordingSink())
                router.login(session)
                router.logout(session)
            }
            try await Task.sleep(for: .milliseconds(1_100))  // the 10/s feed limit
            let firstPage = try #require(try await Self.get(server, "rtm/vendor/user_events").json["events"] as? [[String: Any]])
            #expect(firstPage.count == 1_000)
            #expect(firstPage.first?["user_id"] as? String == "bulk500", "the oldest 1,000 were dropped")
            let secondPage = try #require(try await Self.get(server, "rtm/vendor/user_events").json["events"] as? [[String: Any]])
            #expect(secondPage.count == 1_000)
            #expect(secondPage.last?["user_id"] as? String == "bulk1499")
        }
    }

    @Test func historyAndEventRateLimits() async throws {
        // On a manual clock the buckets never refill during the burst, so the counts are exact.
        try await TestServer.with(TestServer.configuration(), clock: ManualClock()) { server in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<25 { group.addTask { try await Self.get(server, "rtm/vendor/channel_events").status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 10)
            #expect(statuses.filter { $0 == 429 }.count == 15)
            let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<130 {
                    group.addTask {
                        try await Self.get(server, "rtm/message/history/count?source=a&start_time=2019-08-01T01:22:10Z&end_time=2019-08-01T01:24:10Z").status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(counts.filter { $0 == 200 }.count == 100)
            #expect(counts.filter { $0 == 429 }.count == 30)
        }
    }

    @Test func droppedSessionExpiryRecordsLogout() async throws {
        let clock = ManualClock(startingAt: 1_800_000_000_000)
        try await TestServer.with(TestServer.configuration(), clock: clock) { server in
            let socket = try await RawSocket.connect(server.wsURL)
            #expect(try await socket.login(app: TestServer.openAppID, user: "dropper", token: nil) == 0)
            socket.close()
            let router = server.application.router
            for _ in 0..<1_000 where !router.isDetached(UserID("dropper")!, in: AppID(TestServer.openAppID)!) {
                try await Task.sleep(for: .milliseconds(10))
            }
            var before = try await Self.get(server, "rtm/vendor/user_events", app: TestServer.openAppID)
            #expect((before.json["events"] as? [[String: Any]])?.map { $0["type"] as? String } == ["Login"], "no Logout during the grace period")
            clock.advance(by: .seconds(31))
            for _ in 0..<1_000 where router.isOnline(UserID("dropper")!, in: AppID(TestServer.openAppID)!) {
                try await Task.sleep(for: .milliseconds(10))
            }
            clock.advance(by: .seconds(1))  // the feed's rate limit runs on the same clock
            before = try await Self.get(server, "rtm/vendor/user_events", app: TestServer.openAppID)
            #expect((before.json["events"] as? [[String: Any]])?.map { $0["type"] as? String } == ["Logout"])
        }
    }
}
