import Foundation
import NIOCore
import NIOPosix
import RTMCore
import Testing

/// The event-loop path of REST sends: which requests it takes, and that it never changes an answer.
@Suite struct RESTFastPathTests {
    /// Plain sends (Basic or token, peer or channel, `wait_for_ack` false) are answered on the fast path;
    /// everything needing storage, an ack, or an error answer goes to the regular route, which answers it.
    @Test func takesPlainSendsAndLeavesTheRest() async throws {
        try await TestServer.with { server in
            let rest = server.application.rest
            let token = TestServer.token(for: "userA")
            let plain: [() async throws -> HTTPResult] = [
                { try await server.peer(from: "userA", to: "userB") },
                { try await server.peer(from: "userA", to: "userB") },   // the header this connection verified
                { try await server.peer(from: "userA", to: "userB", query: "?wait_for_ack=false") },
                { try await server.peer(from: "userA", to: "userB", headers: ["x-agora-token": token, "x-agora-uid": "userA"]) },
                { try await server.channelPost(from: "userA", channel: "room") },
            ]
            for (index, send) in plain.enumerated() {
                let result = try await send()
                #expect(result.status == 200)
                #expect(rest.fastPathAnswerCount == index + 1)
            }
            let ok = #"{"destination":"userB","payload":"Hi"}"#
            let declined: [(String, String, [String: String], Int)] = [
                ("rtm/users/userA/peer_messages?wait_for_ack=true", ok, ["Authorization": TestServer.basicAuthorization], 200),
                ("rtm/users/userA/peer_messages", #"{"destination":"userB","payload":"Hi","enable_historical_messaging":true}"#,
                 ["Authorization": TestServer.basicAuthorization], 200),
                ("rtm/users/userA/peer_messages", #"{"destination":"userB","payload":"Hi","enable_offline_messaging":true}"#,
                 ["Authorization": TestServer.basicAuthorization], 200),
                ("rtm/users/userA/peer_messages", ok, ["Authorization": "Basic bm9wZTpub3Bl"], 401),
                ("rtm/users/userA/peer_messages", "{", ["Authorization": TestServer.basicAuthorization], 400),
                ("rtm/users/a%25b/peer_messages", ok, ["Authorization": TestServer.basicAuthorization], 200),
            ]
            for (path, body, headers, status) in declined {
                let result = try await server.post(path, headers: headers, body: body)
                #expect(result.status == status, "\(path) \(body)")
            }
            #expect(rest.fastPathAnswerCount == plain.count)
        }
    }

    /// A fast-path send delivers like the regular route: the receiver gets the message.
    @Test func fastSendsReachTheReceiver() async throws {
        try await TestServer.with { server in
            let receiver = try await RawSocket.connect(server.wsURL)
            #expect(try await receiver.login(app: TestServer.appID, user: "userB", token: TestServer.token(for: "userB")) == 0)
            let result = try await server.peer(from: "userA", to: "userB", payload: "over the fast path")
            #expect(result.code == "message_sent")
            #expect(server.application.rest.fastPathAnswerCount == 1)
            let frame = await receiver.next()
            #expect(frame?.contains("over the fast path") == true)
        }
    }

    /// Pipelined requests on one connection are answered in order, whichever path answers each.
    @Test func pipelinedRequestsAnswerInOrder() async throws {
        try await TestServer.with { server in
            let authorization = TestServer.basicAuthorization
            func request(_ path: String, _ body: String) -> String {
                "POST /dev/v2/project/\(TestServer.appID)/\(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(authorization)\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            let history = #"{"destination":"userB","payload":"Hi","enable_historical_messaging":true}"#
            let batch = request("rtm/users/userA/channel_messages", #"{"channel_name":"room","payload":"Hi"}"#)   // fast
                + request("rtm/users/userA/peer_messages", history)                                             // regular
                + request("rtm/users/userA/channel_messages", #"{"channel_name":"room","payload":"Hi"}"#)      // behind it
                + request("rtm/users/userA/peer_messages", "{")                                                // 400
            let responses = try await RawHTTP.exchange(port: server.port, send: batch, responses: 4)
            #expect(responses.map(\.status) == [200, 200, 200, 400])
            #expect(responses.map(\.code) == ["message_sent", "message_offline", "message_sent", "invalid_parameter"])
        }
    }

    /// A body that arrives in several reads is put together and answered on the fast path.
    @Test func aBodyInSeveralReadsIsJoined() async throws {
        try await TestServer.with { server in
            let body = #"{"channel_name":"room","payload":"in three parts"}"#
            let head = "POST /dev/v2/project/\(TestServer.appID)/rtm/users/userA/channel_messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Authorization: \(TestServer.basicAuthorization)\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            let parts = [head + body.prefix(10), String(body.dropFirst(10).prefix(15)), String(body.dropFirst(25))]
            let responses = try await RawHTTP.exchange(port: server.port, sendParts: parts, responses: 1)
            #expect(responses.map(\.status) == [200])
            #expect(responses.map(\.code) == ["message_sent"])
            #expect(server.application.rest.fastPathAnswerCount == 1)
        }
    }
}

/// Writes raw bytes to the server and reads back a number of HTTP/1.1 responses (bodies by Content-Length).
enum RawHTTP {
    struct Response {
        var status: Int
        var code: String?
    }

    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var received = ByteBuffer()
        let expected: Int
        let done: EventLoopPromise<[Response]>

        init(expected: Int, done: EventLoopPromise<[Response]>) {
            self.expected = expected
            self.done = done
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            received.writeBuffer(&chunk)
            if let responses = Self.parse(received), responses.count >= expected { done.succeed(responses) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.fail(ChannelError.eof)
        }

        static func parse(_ buffer: ByteBuffer) -> [Response]? {
            var text = Substring(String(buffer: buffer))
            var responses: [Response] = []
            while let headerEnd = text.range(of: "\r\n\r\n") {
                let head = text[..<headerEnd.lowerBound]
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                let bodyStart = headerEnd.upperBound
                guard text.utf8.distance(from: bodyStart, to: text.endIndex) >= length else { break }
                let bodyEnd = text.utf8.index(bodyStart, offsetBy: length)
                let status = Int(head.split(separator: " ")[1]) ?? 0
                let json = (try? JSONSerialization.jsonObject(with: Data(text[bodyStart..<bodyEnd].utf8))) as? [String: Any]
                responses.append(Response(status: status, code: json?["code"] as? String))
                text = text[bodyEnd...]
            }
            return responses
        }
    }

    static func exchange(port: Int, send: String, responses: Int) async throws -> [Response] {
        try await exchange(port: port, sendParts: [send], responses: responses)
    }

    /// The same, writing `sendParts` one at a time with a pause between, so the server reads them separately.
    static func exchange(port: Int, sendParts: [String], responses: Int) async throws -> [Response] {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: [Response].self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(expected: responses, done: promise))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        for (index, part) in sendParts.enumerated() {
            if index > 0 { try await Task.sleep(for: .milliseconds(50)) }
            try await channel.writeAndFlush(ByteBuffer(string: part)).get()
        }
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(10)) { promise.fail(ChannelError.connectTimeout(.seconds(10))) }
        defer { timeout.cancel(); channel.close(promise: nil) }
        return try await promise.futureResult.get()
    }
}
