import AgoraToken
import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import RTMCore
import RTMGateway
@testable import RTMHTTPAPI
import RTMTestSupport
import Testing

/// The REST fast path on a test channel (no network): NIO's HTTP/1 codec, the ``RESTFastPath`` of a
/// real API (in-process router, memory stores) and, behind it, a recorder standing where Hummingbird
/// stands. Which requests the fast path answers, what it answers, that its sends go through the same
/// service (the channel's member receives the message), and that what it declines is passed on whole.
@Suite struct RESTFastPathEmbeddedTests {
    static let appID = "970CA35de60c44645bbae8a215061b33"
    static let authorization = "Basic " + Data("fast:fast-secret".utf8).base64EncodedString()

    /// What the fast path passed on, as the next handler (Hummingbird's place) saw it.
    final class PassedOn: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        var parts: [HTTPServerRequestPart] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { parts.append(unwrapInboundIn(data)) }
    }

    struct Harness {
        let channel: EmbeddedChannel
        let passedOn: PassedOn
        let router: Router
        let api: RESTAPI

        /// Writes `request` (raw HTTP/1.1) and returns the bytes the server wrote back.
        func exchange(_ request: String) throws -> String {
            try channel.writeInbound(ByteBuffer(string: request))
            channel.embeddedEventLoop.run()   // an answer after deliveries is flushed from a task on the loop
            var answer = ""
            while let bytes = try channel.readOutbound(as: ByteBuffer.self) { answer += String(buffer: bytes) }
            return answer
        }
    }

    static func harness() async throws -> Harness {
        let stores = StoreBundle.inMemory()
        try await stores.apps.upsertApp(AppRecord(appID: AppID(appID)!, certificate: nil, messagingRateLimit: 1_000))
        try await stores.apps.upsertCredential(CustomerCredential(customerID: "fast", secretHash: Signing.sha256Hex("fast-secret"),
                                                                  apps: ["*"]))
        let apps = AppDirectory(registry: stores.apps, clock: SystemClock())
        try await apps.reload()
        let router = Router(clock: SystemClock(), encoder: GatewayEventEncoder())
        let api = RESTAPI(messages: MessageService(broker: router, stores: stores), apps: apps)
        let channel = EmbeddedChannel()
        let passedOn = PassedOn()
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(HTTPResponseEncoder())
        try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
        try pipeline.addHandler(api.makeFastPath())
        try pipeline.addHandler(passedOn)
        return Harness(channel: channel, passedOn: passedOn, router: router, api: api)
    }

    static func post(_ route: String, _ body: String, query: String = "", connection: String? = nil) -> String {
        var head = "POST /dev/v2/project/\(appID)/rtm/users/backend/\(route)\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        head += "Authorization: \(authorization)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
        if let connection { head += "Connection: \(connection)\r\n" }
        return head + "\r\n" + body
    }

    @Test func aPlainChannelSendIsAnsweredHereAndReachesTheMembers() async throws {
        let harness = try await Self.harness()
        let member = RecordingSink()
        let session = RouterSession(appID: AppID(Self.appID)!, userID: UserID("member")!, sessionID: "s-member", sink: member)
        _ = harness.router.login(session)
        _ = harness.router.join(session, channel: ChannelName("room")!)
        let joinEvents = member.texts.count

        let answer = try harness.exchange(Self.post("channel_messages", #"{"channel_name":"room","payload":"héllo"}"#))
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.contains(#""result":"success""#))
        #expect(harness.passedOn.parts.isEmpty, "answered by the fast path")
        #expect(harness.api.fastPathAnswerCount == 1)
        let delivered = member.texts.dropFirst(joinEvents)
        #expect(delivered.count == 1 && delivered.first?.contains(#""héllo""#) == true, "\(delivered)")
        _ = try harness.channel.finish()
    }

    /// Storage, an ack, a refusal, a request that is not kept alive, any other route: the request goes
    /// on whole (head, body, end), unanswered here, to the regular route, which answers it by the same rules.
    @Test(arguments: [
        ("peer_messages", #"{"destination":"u","payload":"x","enable_offline_messaging":true}"#, "", nil),
        ("peer_messages", #"{"destination":"u","payload":"x"}"#, "?wait_for_ack=true", nil),
        ("channel_messages", #"{"channel_name":"room","payload":"x",}"#, "", nil),
        ("channel_messages", #"{"channel_name":"room","payload":"x"}"#, "", "close"),
    ] as [(String, String, String, String?)])
    func whatNeedsMoreThanMemoryIsPassedOnWhole(route: String, body: String, query: String, connection: String?) async throws {
        let harness = try await Self.harness()
        let answer = try harness.exchange(Self.post(route, body, query: query, connection: connection))
        #expect(answer.isEmpty, "nothing answered here")
        #expect(harness.api.fastPathAnswerCount == 0)
        let parts = harness.passedOn.parts
        guard parts.count == 3, case .head(let head) = parts[0], case .body(let passedBody) = parts[1], case .end = parts[2] else {
            Issue.record("passed on: \(parts)")
            return
        }
        #expect(head.uri.hasSuffix("/\(route)\(query)"))
        #expect(String(buffer: passedBody) == body)
        _ = try harness.channel.finish()
    }

    @Test func otherRoutesPassThroughUntouched() async throws {
        let harness = try await Self.harness()
        let answer = try harness.exchange("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(answer.isEmpty)
        guard case .head(let head) = harness.passedOn.parts.first else { Issue.record("nothing passed on"); return }
        #expect(head.method == .GET && head.uri == "/metrics")
        _ = try harness.channel.finish()
    }

    /// Once a request is passed on, the next send waits behind it (passed on too): answers leave in order.
    @Test func aSendBehindAPassedRequestIsPassedOnToo() async throws {
        let harness = try await Self.harness()
        let answer = try harness.exchange("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            + Self.post("channel_messages", #"{"channel_name":"room","payload":"x"}"#))
        #expect(answer.isEmpty)
        let heads = harness.passedOn.parts.compactMap { part -> String? in
            if case .head(let head) = part { head.uri } else { nil }
        }
        #expect(heads.count == 2 && heads[0] == "/health" && heads[1].hasSuffix("/channel_messages"))
        _ = try harness.channel.finish()
    }
}
