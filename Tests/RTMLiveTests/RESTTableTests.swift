import AgoraToken
import Foundation
import NIOCore
import RTMCore
import RTMTestSupport
import Testing

/// Every REST validation and auth rule of `server-contract.md` §1 → exact status and body code.
@Suite struct RESTTableTests {
    struct Row: CustomStringConvertible {
        var name: String
        var path: String
        var app = TestServer.appID
        var headers: [String: String] = ["Authorization": TestServer.basicAuthorization]
        var body: String
        var status: Int
        var code: String
        var description: String { name }
    }

    static let basic = ["Authorization": TestServer.basicAuthorization]
    static let peer = "rtm/users/userA/peer_messages"
    static let channel = "rtm/users/userA/channel_messages"

    static var rows: [Row] {
        let tokenA = TestServer.token(for: "userA")
        let expired = RTMToken.build007(appID: TestServer.appID, certificate: TestServer.certificate, userID: "userA",
                                        expireSeconds: 60, issuedAt: UInt32(Date().timeIntervalSince1970) - 3600)
        let otherBasic = "Basic " + Data("\(TestServer.otherCustomerID):\(TestServer.customerSecret)".utf8).base64EncodedString()
        let wrongSecret = "Basic " + Data("\(TestServer.customerID):nope".utf8).base64EncodedString()
        let ok = #"{"destination":"userB","payload":"Hello"}"#
        return [
            Row(name: "offline receiver, Basic", path: peer, body: ok, status: 200, code: "message_offline"),
            Row(name: "JSON sent as text/plain", path: peer, headers: basic.merging(["Content-Type": "text/plain"]) { $1 },
                body: ok, status: 200, code: "message_offline"),
            Row(name: "unknown fields ignored", path: peer, body: #"{"destination":"userB","payload":"Hi","extra":[1]}"#,
                status: 200, code: "message_offline"),
            Row(name: "no credentials", path: peer, headers: [:], body: ok, status: 401, code: "unauthorized"),
            Row(name: "wrong secret", path: peer, headers: ["Authorization": wrongSecret], body: ok, status: 401, code: "unauthorized"),
            Row(name: "credential not enabled for this app", path: peer, headers: ["Authorization": otherBasic], body: ok,
                status: 401, code: "unauthorized"),
            Row(name: "unknown app id", path: peer, app: "00000000000000000000000000000000", body: ok, status: 401, code: "unauthorized"),
            Row(name: "malformed app id", path: peer, app: "not-an-app", body: ok, status: 401, code: "unauthorized"),
            Row(name: "token auth as the token's user", path: peer, headers: ["x-agora-token": tokenA, "x-agora-uid": "userA"],
                body: ok, status: 200, code: "message_offline"),
            Row(name: "agora token= header", path: peer, headers: ["Authorization": "agora token=\(tokenA)"], body: ok,
                status: 200, code: "message_offline"),
            Row(name: "schemes match without case (BASIC)", path: peer,
                headers: ["Authorization": "BASIC " + TestServer.basicAuthorization.dropFirst(6)], body: ok,
                status: 200, code: "message_offline"),
            Row(name: "schemes match without case (Agora Token=)", path: peer, headers: ["Authorization": "Agora Token=\(tokenA)"],
                body: ok, status: 200, code: "message_offline"),
            Row(name: "token for another user than the path", path: "rtm/users/userC/peer_messages",
                headers: ["x-agora-token": tokenA, "x-agora-uid": "userA"], body: ok, status: 401, code: "unauthorized"),
            Row(name: "uid header differs from the token", path: peer, headers: ["x-agora-token": tokenA, "x-agora-uid": "userB"],
                body: ok, status: 401, code: "unauthorized"),
            Row(name: "expired token", path: peer, headers: ["x-agora-token": expired, "x-agora-uid": "userA"], body: ok,
                status: 401, code: "unauthorized"),
            Row(name: "token on an app without certificate", path: peer, app: TestServer.openAppID,
                headers: ["x-agora-token": tokenA, "x-agora-uid": "userA"], body: ok, status: 401, code: "unauthorized"),
            Row(name: "percent-decoded sender", path: "rtm/users/a%25b/peer_messages", body: ok, status: 200, code: "message_offline"),
            Row(name: "sender with leading space", path: "rtm/users/%20a/peer_messages", body: ok, status: 400, code: "invalid_parameter"),
            Row(name: "sender with a forbidden character", path: "rtm/users/a%2Fb/peer_messages", body: ok, status: 400, code: "invalid_parameter"),
            Row(name: "sender of 65 characters", path: "rtm/users/\(String(repeating: "a", count: 65))/peer_messages", body: ok,
                status: 400, code: "invalid_parameter"),
            Row(name: "missing destination", path: peer, body: #"{"payload":"Hi"}"#, status: 400, code: "invalid_parameter"),
            Row(name: "destination of the wrong type", path: peer, body: #"{"destination":5,"payload":"Hi"}"#, status: 400, code: "invalid_parameter"),
            Row(name: "destination with trailing space", path: peer, body: #"{"destination":"userB ","payload":"Hi"}"#,
                status: 400, code: "invalid_parameter"),
            Row(name: "empty payload", path: peer, body: #"{"destination":"userB","payload":""}"#, status: 400, code: "invalid_parameter"),
            Row(name: "payload not a string", path: peer, body: #"{"destination":"userB","payload":{"a":1}}"#, status: 400, code: "invalid_parameter"),
            Row(name: "payload of 32,768 bytes", path: peer,
                body: #"{"destination":"userB","payload":"\#(String(repeating: "é", count: 16_384))"}"#, status: 200, code: "message_offline"),
            Row(name: "payload of 32,769 bytes", path: peer,
                body: #"{"destination":"userB","payload":"\#(String(repeating: "x", count: 32_769))"}"#, status: 400, code: "invalid_parameter"),
            Row(name: "offline flag of the wrong type", path: peer, body: #"{"destination":"userB","payload":"Hi","enable_offline_messaging":"yes"}"#,
                status: 400, code: "invalid_parameter"),
            Row(name: "body not JSON", path: peer, body: "destination=userB", status: 400, code: "invalid_parameter"),
            // One grammar on both routes (strict JSON, RFC 8259): a trailing comma is refused by either.
            Row(name: "trailing comma in the body", path: peer, body: #"{"destination":"userB","payload":"Hi",}"#,
                status: 400, code: "invalid_parameter"),
            Row(name: "a body with a byte-order mark", path: peer, body: "\u{FEFF}" + ok, status: 400, code: "invalid_parameter"),
            Row(name: "body a JSON array", path: peer, body: "[1,2]", status: 400, code: "invalid_parameter"),
            // One grammar on both routes: a repeated key is refused, neither value taken (before, the fast path kept
            // the last and the regular route the first).
            Row(name: "destination twice", path: peer, body: #"{"destination":"userB","payload":"Hi","destination":"userC"}"#,
                status: 400, code: "invalid_parameter"),
            Row(name: "payload twice", path: peer, body: #"{"destination":"userB","payload":"Hi","payload":"Ho"}"#,
                status: 400, code: "invalid_parameter"),
            Row(name: "a repeated key in a nested object", path: peer, body: #"{"destination":"userB","payload":"Hi","extra":{"a":1,"a":2}}"#,
                status: 400, code: "invalid_parameter"),
            Row(name: "a repeated key after a trailing comma", path: peer,
                body: #"{"extra":[1,],"destination":"userB","destination":"userC","payload":"Hi"}"#, status: 400, code: "invalid_parameter"),
            Row(name: "channel_name twice", path: channel, body: #"{"channel_name":"room","channel_name":"hall","payload":"Hi"}"#,
                status: 400, code: "invalid_parameter"),
            Row(name: "a repeated key without credentials", path: peer, headers: [:],
                body: #"{"destination":"userB","destination":"userC","payload":"Hi"}"#, status: 401, code: "unauthorized"),
            // An empty user id segment is an invalid id (after authentication), not the router's bare 404.
            Row(name: "empty sender segment (peer)", path: "rtm/users//peer_messages", body: ok, status: 400, code: "invalid_parameter"),
            Row(name: "empty sender segment (channel)", path: "rtm/users//channel_messages", body: #"{"channel_name":"room","payload":"Hi"}"#,
                status: 400, code: "invalid_parameter"),
            Row(name: "empty sender segment without credentials", path: "rtm/users//peer_messages", headers: [:], body: ok,
                status: 401, code: "unauthorized"),
            Row(name: "a sender named peer_messages", path: "rtm/users/peer_messages/peer_messages", body: ok,
                status: 200, code: "message_offline"),
            Row(name: "a sender named channel_messages", path: "rtm/users/channel_messages/channel_messages",
                body: #"{"channel_name":"room","payload":"Hi"}"#, status: 200, code: "message_sent"),
            Row(name: "wait_for_ack=TRUE", path: peer + "?wait_for_ack=TRUE", body: ok, status: 200, code: "message_offline"),
            Row(name: "wait_for_ack=0", path: peer + "?wait_for_ack=0", body: ok, status: 200, code: "message_offline"),
            Row(name: "wait_for_ack=maybe", path: peer + "?wait_for_ack=maybe", body: ok, status: 400, code: "invalid_parameter"),
            Row(name: "channel message to an empty channel", path: channel, body: #"{"channel_name":"room","payload":"Hi"}"#,
                status: 200, code: "message_sent"),
            Row(name: "missing channel_name", path: channel, body: #"{"payload":"Hi"}"#, status: 400, code: "invalid_parameter"),
            Row(name: "channel_name of 65 characters", path: channel,
                body: #"{"channel_name":"\#(String(repeating: "c", count: 65))","payload":"Hi"}"#, status: 400, code: "invalid_parameter"),
            Row(name: "channel payload empty", path: channel, body: #"{"channel_name":"room","payload":""}"#, status: 400, code: "invalid_parameter"),
            Row(name: "channel message without credentials", path: channel, headers: [:], body: #"{"channel_name":"room","payload":"Hi"}"#,
                status: 401, code: "unauthorized"),
        ]
    }

    /// With the fast path on (it answers the plain sends) and off (the regular route answers all): the same answers.
    @Test(arguments: [StoreBackend.sqlite, .postgres], [true, false])
    func everyRuleAnswersWithItsStatusAndBody(_ backend: StoreBackend, fastPath: Bool) async throws {
        var configuration = TestServer.configuration()
        configuration.restFastPath = fastPath
        try await TestServer.with(configuration, backend: backend) { server in
            for row in Self.rows {
                try await Self.check(row, on: server)
            }
            if fastPath {
                #expect(server.application.rest.fastPathAnswerCount > 0)
            } else {
                #expect(server.application.rest.fastPathAnswerCount == 0)
            }
        }
    }

    /// One row: its status, code and the body's shape.
    static func check(_ row: Row, on server: TestServer) async throws {
        let result = try await server.post(row.path, app: row.app, headers: row.headers, body: row.body)
        #expect(result.status == row.status, "\(row.name)")
        #expect(result.code == row.code, "\(row.name)")
        let requestID = try #require(result.headers["x-request-id"], "\(row.name)")
        #expect(result.json["request_id"] as? String == requestID, "\(row.name)")
        if row.status == 200 {
            #expect(result.json["result"] as? String == "success", "\(row.name)")
        } else {
            #expect(result.json["result"] as? String == "failed", "\(row.name)")
            #expect((result.json["message"] as? String)?.isEmpty == false, "\(row.name)")
        }
        #expect(result.headers["content-type"] == "application/json; charset=utf-8", "\(row.name)")
        #expect(result.headers["date"]?.hasSuffix(" GMT") == true, "\(row.name)")
    }

    /// The same table on a 3-node cluster, the calls spread over the nodes in turn.
    @Test func everyRuleAnswersTheSameOnA3NodeCluster() async throws {
        try await TestServer.cluster(nodes: 3) { nodes in
            for (index, row) in Self.rows.enumerated() {
                try await Self.check(row, on: nodes[index % nodes.count])
            }
        }
    }

    @Test func requestIDsAreUnique() async throws {
        try await TestServer.with { server in
            var seen = Set<String>()
            for _ in 0..<20 {
                let result = try await server.peer(from: "userA", to: "userB")
                seen.insert(try #require(result.headers["x-request-id"]))
            }
            #expect(seen.count == 20)
        }
    }

    @Test func bodiesOver64KiBAre413() async throws {
        try await TestServer.with { server in
            let big = #"{"destination":"userB","payload":"\#(String(repeating: "x", count: 70_000))"}"#
            let result = try await server.post(Self.peer, headers: Self.basic, body: big)
            #expect(result.status == 413)
            #expect(result.code == "payload_too_large")
            #expect(result.headers["x-request-id"] != nil)
        }
    }

    @Test func burstOverTheAppLimitGets429WithRetryAfter() async throws {
        // A manual clock: the bucket does not refill during the burst, so the statuses are exact.
        try await TestServer.with(TestServer.configuration(), clock: ManualClock()) { server in
            // Unauthenticated calls never use up the app's quota.
            for _ in 0..<5 {
                let refused = try await server.post(Self.channel, app: TestServer.limitedAppID, headers: [:],
                                                    body: #"{"channel_name":"room","payload":"Hi"}"#)
                #expect(refused.status == 401)
            }
            var statuses: [Int] = []
            var retryAfter: [String] = []
            for _ in 0..<6 {
                let result = try await server.channelPost(from: "userA", channel: "room", app: TestServer.limitedAppID)
                statuses.append(result.status)
                if result.status == 429 {
                    #expect(result.code == "too_many_requests")
                    retryAfter.append(result.headers["retry-after"] ?? "")
                }
            }
            #expect(statuses == [200, 200, 429, 429, 429, 429])
            #expect(retryAfter.allSatisfy { (Int($0) ?? 0) >= 1 })
            // Another app's quota is untouched.
            #expect(try await server.channelPost(from: "userA", channel: "room").status == 200)
        }
    }

    @Test func healthAndMetricsEndpoints() async throws {
        try await TestServer.with { server in
            #expect(try await server.get("/healthz").0 == 200)
            #expect(try await server.get("/readyz").0 == 200)
            _ = try await server.peer(from: "userA", to: "userB")
            let (status, text) = try await server.get("/metrics")
            #expect(status == 200)
            #expect(text.contains("rtm_rest_requests_total"))
            #expect(text.contains(#"route="peer_messages""#))
        }
    }
}
