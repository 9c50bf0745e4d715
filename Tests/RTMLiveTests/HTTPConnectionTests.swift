import Foundation
import NIOCore
import RTMServer
import RTMTestSupport
import Testing

/// HTTP connections held to their deadlines, malformed requests answered and closed, and the bound
/// per client address: raw TCP against a real server.
@Suite struct HTTPConnectionTests {
    static func configuration(idle: Duration = .seconds(30), header: Duration = .seconds(30)) -> ServerConfiguration {
        var configuration = TestServer.configuration(ackTimeout: .seconds(2))
        configuration.idleTimeout = idle
        configuration.headerReadTimeout = header
        return configuration
    }

    static let healthz = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"

    /// `rtm_http_connections_closed_total{reason}` as `/metrics` shows it (shared by every server in the
    /// process; read in-process so that no HTTP connection counts against a bound per address).
    static func closedCount(_ server: TestServer, _ reason: String) async throws -> Int {
        let text = String(decoding: MetricsBootstrap.exposition(), as: UTF8.self)
        let prefix = "rtm_http_connections_closed_total{reason=\"\(reason)\"} "
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Int(Double(line.dropFirst(prefix.count)) ?? 0)
    }

    // MARK: Malformed requests

    static let malformed: [(name: String, request: String, status: Int, reason: String)] = [
        ("Content-Length with Transfer-Encoding",
         "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "bad_request"),
        ("duplicate Content-Length", "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, "bad_request"),
        ("a 100 KiB header", "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 100 * 1024))\r\n\r\n", 431,
         "headers_too_large"),
        ("a 200 KiB URI", "GET /\(String(repeating: "a", count: 200 * 1024)) HTTP/1.1\r\nHost: t\r\n\r\n", 414, "uri_too_long"),
        ("not HTTP", "HELLO\r\n\r\n", 400, "bad_request"),
    ]

    @Test func malformedRequestsAreAnsweredAndClosed() async throws {
        try await TestServer.with(Self.configuration()) { server in
            for (name, request, status, reason) in Self.malformed {
                let before = try await Self.closedCount(server, reason)
                // As a connection's first request, and after a kept-alive request.
                for first in [true, false] {
                    let connection = try await RawTCP.connect(port: server.port)
                    defer { connection.close() }
                    if !first {
                        try await connection.send(Self.healthz)
                        #expect(await connection.statuses() == [200], "\(name)")
                    }
                    try await connection.send(request)
                    #expect(await connection.statuses(count: first ? 1 : 2) == (first ? [status] : [200, status]), "\(name), first: \(first)")
                    #expect(await connection.waitForClose(), "\(name), first: \(first): connection left open")
                }
                #expect(try await Self.closedCount(server, reason) >= before + 2, "\(name)")
            }
        }
    }

    @Test func malformedChunkedBodyIs400() async throws {
        try await TestServer.with(Self.configuration()) { server in
            let connection = try await RawTCP.connect(port: server.port)
            defer { connection.close() }
            try await connection.send("POST /dev/v2/project/\(TestServer.appID)/rtm/users/a/peer_messages HTTP/1.1\r\nHost: t\r\n"
                + "Authorization: \(TestServer.basicAuthorization)\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"des\r\nzz\r\n")
            #expect(await connection.statuses() == [400])
            #expect(await connection.waitForClose())
        }
    }

    @Test func lateUpgradeIsRefusedWithoutRedirect() async throws {
        try await TestServer.with(Self.configuration()) { server in
            let connection = try await RawTCP.connect(port: server.port)
            defer { connection.close() }
            try await connection.send(Self.healthz)
            #expect(await connection.statuses() == [200])
            try await connection.send("GET //evil.example/v1/ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            #expect(await connection.statuses(count: 2) == [200, 400])
            #expect(!connection.text.lowercased().contains("location:"))
            #expect(await connection.waitForClose())
        }
    }

    static let upgrade = "GET /v1/ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    /// A frame sent in the same write as the upgrade request reaches the gateway (NIO hands the bytes
    /// left behind its decoder to the upgrade; they once reached the guard as if they were HTTP).
    @Test func frameInTheUpgradeRequestsWriteIsServed() async throws {
        try await TestServer.with(Self.configuration()) { server in
            let connection = try await RawTCP.connect(port: server.port)
            defer { connection.close() }
            try await connection.channel.writeAndFlush(ByteBuffer(bytes: Array(Self.upgrade.utf8) + [0x89, 0x80, 1, 2, 3, 4]))  // masked ping
            #expect(await connection.statuses() == [101])
            let pong: [UInt8] = [0x8A, 0x00]
            #expect(await waitUntil {
                let bytes = connection.bytes
                return bytes.indices.contains { bytes[$0...].starts(with: pong) }
            })
        }
    }

    /// An upgrade NIO's WebSocket upgrader cannot complete (no key) is closed, not left open.
    @Test func upgradeWithoutKeyIsClosed() async throws {
        try await TestServer.with(Self.configuration()) { server in
            let connection = try await RawTCP.connect(port: server.port)
            defer { connection.close() }
            try await connection.send("GET /v1/ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            #expect(await connection.waitForClose())
        }
    }

    // MARK: Deadlines

    @Test func idleKeptAliveConnectionIsClosed() async throws {
        try await TestServer.with(Self.configuration(idle: .milliseconds(300))) { server in
            let before = try await Self.closedCount(server, "idle_timeout")
            let connection = try await RawTCP.connect(port: server.port)
            defer { connection.close() }
            try await connection.send(Self.healthz)
            #expect(await connection.statuses() == [200])
            #expect(await connection.waitForClose())   // the header deadline (30 s) is far beyond the bounded wait
            #expect(try await Self.closedCount(server, "idle_timeout") >= before + 1)
        }
    }

    @Test func silentNewConnectionIsClosedAtTheHeaderDeadline() async throws {
        try await TestServer.with(Self.configuration(header: .milliseconds(300))) { server in
            let before = try await Self.closedCount(server, "header_timeout")
            let connection = try await RawTCP.connect(port: server.port)
            defer { connection.close() }
            #expect(await connection.waitForClose())
            #expect(connection.text.isEmpty)
            #expect(try await Self.closedCount(server, "header_timeout") >= before + 1)
        }
    }

    /// One byte every 100 ms, on a fresh connection and after a kept-alive request: closed at the
    /// header deadline (2 s; the kept-alive connection's first request must be answered within it
    /// in a loaded parallel run, which 500 ms was not) although bytes keep coming and the idle
    /// deadline is 30 s.
    @Test func slowlorisIsClosedAtTheHeaderDeadline() async throws {
        try await TestServer.with(Self.configuration(header: .seconds(2))) { server in
            for keptAlive in [false, true] {
                let connection = try await RawTCP.connect(port: server.port)
                defer { connection.close() }
                if keptAlive {
                    try await connection.send(Self.healthz)
                    #expect(await connection.statuses() == [200])
                }
                let trickle = Array("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + String(repeating: "a", count: 400))
                var sent = 0
                while sent < trickle.count, !connection.isClosed {
                    try? await connection.send(String(trickle[sent]))
                    sent += 1
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(connection.isClosed, "keptAlive: \(keptAlive): still open after \(sent) bytes")
                #expect(sent < trickle.count)
            }
        }
    }

    /// A request being answered (a `wait_for_ack` send waiting 2 s for an ack that never comes) is
    /// not cut by the 300 ms idle deadline.
    @Test func requestInProgressOutlivesTheIdleDeadline() async throws {
        try await TestServer.with(Self.configuration(idle: .milliseconds(300))) { server in
            let silent = try await LiveMessagingTests.loggedInRaw(server, "silent")
            defer { silent.close() }
            let connection = try await RawTCP.connect(port: server.port)
            defer { connection.close() }
            let body = #"{"destination":"silent","payload":"ack me"}"#
            try await connection.send("POST /dev/v2/project/\(TestServer.appID)/rtm/users/a/peer_messages?wait_for_ack=true HTTP/1.1\r\n"
                + "Host: t\r\nAuthorization: \(TestServer.basicAuthorization)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            #expect(await connection.statuses() == [408])
            #expect(await connection.waitForClose())   // and then the idle deadline applies
        }
    }

    /// An upgraded, logged-in WebSocket is not held to HTTP deadlines (it answers pings). The header
    /// deadline is 2 s, not less: the upgrade itself must beat it, and a loaded machine in the full
    /// parallel run took longer than 200 ms to send it. The socket then outlives both deadlines.
    @Test func loggedInWebSocketOutlivesHTTPDeadlines() async throws {
        try await TestServer.with(Self.configuration(idle: .milliseconds(200), header: .seconds(2))) { server in
            let socket = try await LiveMessagingTests.loggedInRaw(server, "stays")
            defer { socket.close() }
            try await Task.sleep(for: .seconds(3))
            let sent = try await server.peer(from: "a", to: "stays", payload: "still here")
            #expect(sent.status == 200 && sent.code == "message_sent")
            guard case .event(_, .peerMessage(_, "a", .text("still here"), _, false))? = await socket.frame(where: {
                if case .event(_, .peerMessage) = $0 { true } else { false }
            }) else { Issue.record("the WebSocket did not stay open"); return }
        }
    }

    // MARK: Connections per client address

    @Test func connectionsPerAddressAreBounded() async throws {
        var configuration = Self.configuration()
        configuration.maximumConnectionsPerAddress = 3
        try await TestServer.with(configuration) { server in
            let before = try await Self.closedCount(server, "per_address_limit")
            var held: [RawTCP] = []
            for _ in 0..<3 {
                let connection = try await RawTCP.connect(port: server.port)
                try await connection.send(Self.healthz)
                #expect(await connection.statuses() == [200])
                held.append(connection)
            }
            let refused = try await RawTCP.connect(port: server.port)
            defer { refused.close() }
            #expect(await refused.waitForClose())
            #expect(refused.text.isEmpty)
            #expect(try await Self.closedCount(server, "per_address_limit") >= before + 1)
            // One closes: a new connection is served again.
            held.removeFirst().close()
            var served = false
            for _ in 0..<20 where !served {
                let again = try await RawTCP.connect(port: server.port)
                try? await again.send(Self.healthz)
                served = await again.statuses() == [200]
                if served { held.append(again) } else { again.close() }
            }
            #expect(served)
            for connection in held { connection.close() }
        }
    }

    @Test func trustedProxyNamesTheClient() async throws {
        var configuration = Self.configuration()
        configuration.maximumConnectionsPerAddress = 2
        configuration.trustedProxies = ["127.0.0.0/8"]
        try await TestServer.with(configuration) { server in
            func request(forwardedFor client: String) -> String {
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 198.51.100.1, \(client)\r\n\r\n"
            }
            var held: [RawTCP] = []
            defer { for connection in held { connection.close() } }
            for _ in 0..<2 {
                let connection = try await RawTCP.connect(port: server.port)
                held.append(connection)
                try await connection.send(request(forwardedFor: "203.0.113.7"))
                #expect(await connection.statuses() == [200])
            }
            let third = try await RawTCP.connect(port: server.port)
            held.append(third)
            try await third.send(request(forwardedFor: "203.0.113.7"))
            #expect(await third.statuses() == [429])
            #expect(await third.waitForClose())
            // Another client behind the same proxy, and the proxy itself (no header), are not bounded by it.
            for header in [request(forwardedFor: "203.0.113.8"), Self.healthz] {
                let other = try await RawTCP.connect(port: server.port)
                held.append(other)
                try await other.send(header)
                #expect(await other.statuses() == [200], "\(header)")
            }
        }
    }
}
