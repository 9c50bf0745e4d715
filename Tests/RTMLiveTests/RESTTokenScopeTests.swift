import AsyncHTTPClient
import Foundation
import RTMCore
import RTMServer
import RTMTestSupport
import Testing

/// `rest_token_scope` through a real server: what an end user's 007 token (built by AgoraToken)
/// reaches on the history and event routes, with `app` (Agora's behaviour) and with `user`.
@Suite struct RESTTokenScopeTests {
    /// The query window: an hour either side of now (the server runs on the system clock, so the
    /// 007 tokens made now are valid for it).
    static let start = time(offset: -3600), end = time(offset: 3600)

    static func time(offset seconds: TimeInterval) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date().addingTimeInterval(seconds))
    }
    static let malloryToken = ["x-agora-token": TestServer.token(for: "mallory"), "x-agora-uid": "mallory"]
    static let basic = ["Authorization": TestServer.basicAuthorization]

    static func configuration(_ scope: RESTTokenScope) -> ServerConfiguration {
        var configuration = TestServer.configuration()
        configuration.apps[0].restTokenScope = scope   // the app with a certificate: tokens work on it
        return configuration
    }

    /// Six messages kept with history, in this order.
    static func sendHistory(_ server: TestServer) async throws {
        let sends: [(String, String, String)] = [
            ("alice", "peer", #"{"destination":"bob","payload":"a-b","enable_historical_messaging":true}"#),
            ("bob", "peer", #"{"destination":"mallory","payload":"b-m","enable_historical_messaging":true}"#),
            ("mallory", "peer", #"{"destination":"alice","payload":"m-a","enable_historical_messaging":true}"#),
            ("carol", "channel", #"{"channel_name":"lobby","payload":"c-lobby","enable_historical_messaging":true}"#),
            ("mallory", "channel", #"{"channel_name":"lobby","payload":"m-lobby","enable_historical_messaging":true}"#),
            ("carol", "channel", #"{"channel_name":"mallory","payload":"c-#mallory","enable_historical_messaging":true}"#),
        ]
        for (from, kind, body) in sends {
            #expect(try await server.post("rtm/users/\(from)/\(kind)_messages", body: body).status == 200)
        }
    }

    static func get(_ server: TestServer, _ path: String, headers: [String: String]) async throws -> HTTPResult {
        var request = HTTPClientRequestBuilder.get("\(server.baseURL)/dev/v2/project/\(TestServer.appID)/\(path)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        return try await HTTPClientRequestBuilder.run(request)
    }

    /// Creates a query as `headers` and returns its handle.
    static func handle(_ server: TestServer, filter: String, headers: [String: String]) async throws -> String {
        let body = #"{"filter":{\#(filter),"start_time":"\#(start)","end_time":"\#(end)"},"limit":100}"#
        let created = try await server.post("rtm/message/history/query", headers: headers, body: body)
        #expect(created.status == 200, "\(filter)")
        return String((created.json["location"] as? String ?? "").split(separator: "/").last ?? "")
    }

    /// The payloads a query returns to `headers`.
    static func payloads(_ server: TestServer, filter: String, headers: [String: String]) async throws -> [String] {
        let handle = try await handle(server, filter: filter, headers: headers)
        let result = try await get(server, "rtm/message/history/query/\(handle)", headers: headers)
        #expect(result.status == 200 && result.code == "ok", "\(filter)")
        return (result.json["messages"] as? [[String: Any]] ?? []).compactMap { $0["payload"] as? String }
    }

    static func count(_ server: TestServer, _ parameters: String, headers: [String: String]) async throws -> Int? {
        let result = try await get(server, "rtm/message/history/count?\(parameters)&start_time=\(start)&end_time=\(end)", headers: headers)
        #expect(result.status == 200, "\(parameters)")
        return result.json["count"] as? Int
    }

    /// Logs a user in and out over the client protocol, so the feeds hold events.
    static func makeEvents(_ server: TestServer) async throws {
        let client = try await LivePersistenceTests.client(server, "dave")
        await client.logout()
    }

    @Test(arguments: [StoreBackend.sqlite, .postgres])
    func appScopeLetsAnyTokenReadTheWholeApp(_ backend: StoreBackend) async throws {
        try await TestServer.with(Self.configuration(.app), backend: backend) { server in
            try await Self.sendHistory(server)
            // Another user's messages and a channel mallory never wrote to, read with mallory's token.
            #expect(try await Self.payloads(server, filter: #""source":"alice""#, headers: Self.malloryToken) == ["a-b"])
            #expect(try await Self.payloads(server, filter: #""destination":"mallory""#, headers: Self.malloryToken)
                == ["b-m", "c-#mallory"])
            #expect(try await Self.count(server, "destination=lobby", headers: Self.malloryToken) == 2)
            // A handle the backend made runs for the token too.
            let backendHandle = try await Self.handle(server, filter: #""source":"carol""#, headers: Self.basic)
            #expect(try await Self.get(server, "rtm/message/history/query/\(backendHandle)", headers: Self.malloryToken).status == 200)
            // And the destructive feeds drain for a token.
            try await Self.makeEvents(server)
            let events = try await Self.get(server, "rtm/vendor/user_events", headers: Self.malloryToken)
            #expect(events.status == 200)
            #expect((events.json["events"] as? [[String: Any]])?.isEmpty == false)
            #expect(try await Self.get(server, "rtm/vendor/channel_events", headers: Self.malloryToken).status == 200)
        }
    }

    @Test(arguments: [StoreBackend.sqlite, .postgres])
    func userScopeGivesATokenOnlyItsOwnMessages(_ backend: StoreBackend) async throws {
        try await TestServer.with(Self.configuration(.user), backend: backend) { server in
            try await Self.sendHistory(server)
            let token = Self.malloryToken
            #expect(try await Self.payloads(server, filter: #""source":"alice""#, headers: token) == [])
            #expect(try await Self.payloads(server, filter: #""destination":"bob""#, headers: token) == [])
            #expect(try await Self.payloads(server, filter: #""source":"bob""#, headers: token) == ["b-m"])
            #expect(try await Self.payloads(server, filter: #""destination":"mallory""#, headers: token) == ["b-m"],
                    "not the channel named mallory")
            #expect(try await Self.payloads(server, filter: #""destination":"lobby""#, headers: token) == ["m-lobby"])
            #expect(try await Self.payloads(server, filter: #""source":"mallory""#, headers: token) == ["m-a", "m-lobby"])
            #expect(try await Self.count(server, "destination=lobby", headers: token) == 1)
            #expect(try await Self.count(server, "source=alice", headers: token) == 0)
            #expect(try await Self.count(server, "destination=%22mallory%22", headers: token) == 1)
            // The customer credential still reads the whole app.
            #expect(try await Self.payloads(server, filter: #""destination":"mallory""#, headers: Self.basic) == ["b-m", "c-#mallory"])
            #expect(try await Self.count(server, "destination=lobby", headers: Self.basic) == 2)
            // A handle made with the wider view does not run for the token (and is used up).
            let backendHandle = try await Self.handle(server, filter: #""source":"carol""#, headers: Self.basic)
            let refused = try await Self.get(server, "rtm/message/history/query/\(backendHandle)", headers: token)
            #expect(refused.status == 410 && refused.code == "gone")
            // The event feeds need the customer credential; the token's attempt leaves the events in place.
            try await Self.makeEvents(server)
            for feed in ["user_events", "channel_events"] {
                let denied = try await Self.get(server, "rtm/vendor/\(feed)", headers: token)
                #expect(denied.status == 401 && denied.code == "unauthorized", "\(feed)")
                #expect((denied.json["message"] as? String)?.contains("customer credential") == true, "\(feed)")
            }
            let events = try await Self.get(server, "rtm/vendor/user_events", headers: Self.basic)
            #expect((events.json["events"] as? [[String: Any]])?.map { $0["user_id"] as? String } == ["dave", "dave"])
            // Sends are unchanged: a token sends as its own user.
            let send = try await server.post("rtm/users/mallory/peer_messages", headers: token, body: #"{"destination":"bob","payload":"hi"}"#)
            #expect(send.status == 200)
        }
    }

    @Test func configurationFileSetsTheScopePerApp() throws {
        func load(_ text: String) throws -> ServerConfiguration {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("rtm-scope-\(UUID().uuidString).yaml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            return try ConfigurationLoader.load(file: path, environment: [:])
        }
        let configuration = try load("""
            apps:
              - app_id: 970CA35de60c44645bbae8a215061b33
                rest_token_scope: user
              - app_id: 0123456789abcdef0123456789abcdef
            """)
        #expect(configuration.apps.map(\.restTokenScope) == [.user, .app])
        do {
            _ = try load("apps:\n  - app_id: 970CA35de60c44645bbae8a215061b33\n    rest_token_scope: everyone\n")
            Issue.record("an unknown scope was accepted")
        } catch let error as ConfigurationError {
            #expect(error.key == "apps[0].rest_token_scope")
        }
    }
}
