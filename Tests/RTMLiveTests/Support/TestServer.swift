import AgoraToken
import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import RTMCore
import RTMServer
import RTMTestSupport

/// A real server on an ephemeral port of 127.0.0.1 with its own data directory.
struct TestServer {
    static let appID = "970CA35de60c44645bbae8a215061b33"
    static let certificate = "5CFd2fd1755d40ecb72977518be15d3b"
    /// An app whose clients log in without tokens.
    static let openAppID = "0123456789abcdef0123456789abcdef"
    /// An app with a messaging rate limit of 2 calls per second.
    static let limitedAppID = "fedcba9876543210fedcba9876543210"
    static let customerID = "test-customer"
    static let customerSecret = "test-secret-123456"
    /// A credential enabled only for the open app.
    static let otherCustomerID = "other-customer"

    let application: RTMApplication
    let port: Int

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var wsURL: String { "ws://127.0.0.1:\(port)/v1/ws" }

    static func configuration(ackTimeout: Duration = .seconds(3)) -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.dataDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("rtm-test-\(UUID().uuidString)").path
        configuration.ackTimeout = ackTimeout
        configuration.bootstrapWhenEmpty = false
        // The HTTP deadlines run on the server's clock: a test that moves a manual clock by days (retention,
        // handle expiry) must not close its HTTP client's pooled connections by the way. Tests of the
        // deadlines set their own.
        configuration.idleTimeout = .seconds(30 * 86_400)
        configuration.headerReadTimeout = .seconds(30 * 86_400)
        // A test may end with a request still open (a slow body, a half-sent head): the graceful
        // shutdown waits for it this long, then cancels it.
        configuration.maximumShutdownDuration = .seconds(5)
        configuration.apps = [
            .init(appID: appID, appCertificate: certificate),
            .init(appID: openAppID, appCertificate: nil),
            .init(appID: limitedAppID, appCertificate: nil, messagingRateLimit: 2),
        ]
        configuration.customers = [
            .init(id: customerID, secret: customerSecret, apps: ["*"]),
            .init(id: otherCustomerID, secret: customerSecret, apps: [openAppID]),
        ]
        return configuration
    }

    /// Starts a server, runs `body`, and stops the server.
    static func with<T>(_ configuration: ServerConfiguration = configuration(), clock: any RTMClock = SystemClock(),
                        backend: StoreBackend = .sqlite, _ body: (TestServer) async throws -> T) async throws -> T {
        var configuration = configuration
        if backend == .postgres { configuration.databaseURL = try await StoreBackend.freshPostgresDatabase() }
        let application = try await RTMApplication.build(configuration: configuration, clock: clock, stopsOnSignals: false)
        // The same path as `rtm serve` (every service in one group), stopped by `shutdown()` instead of a signal.
        let serving = Task { try await application.run() }
        let port = await application.boundPort.value()
        let result: Result<T, any Error>
        do {
            result = .success(try await body(TestServer(application: application, port: port)))
        } catch {
            result = .failure(error)
        }
        try await application.shutdown()
        try await serving.value
        try? FileManager.default.removeItem(atPath: configuration.dataDirectory)
        return try result.get()
    }

    /// Starts `count` servers as the nodes of one cluster (node ids `node-1`…, one fresh PostgreSQL
    /// database), waits until each node's bus is up, runs `body`, and stops them.
    static func cluster<T>(nodes count: Int = 2, _ configuration: ServerConfiguration = configuration(), clock: any RTMClock = SystemClock(),
                           _ body: ([TestServer]) async throws -> T) async throws -> T {
        var configuration = configuration
        configuration.databaseURL = try await StoreBackend.freshPostgresDatabase()
        var servers: [TestServer] = []
        var serving: [Task<Void, any Error>] = []
        let result: Result<T, any Error>
        do {
            for index in 1...count {
                var node = configuration
                node.nodeID = "node-\(index)"
                node.dataDirectory = configuration.dataDirectory + "-\(index)"
                let application = try await RTMApplication.build(configuration: node, clock: clock, stopsOnSignals: false)
                serving.append(Task { try await application.run() })
                servers.append(TestServer(application: application, port: await application.boundPort.value()))
            }
            try await waitUntilNodesSeeEachOther(servers)
            result = .success(try await body(servers))
        } catch {
            result = .failure(error)
        }
        for server in servers { try? await server.application.shutdown() }   // a test may have stopped one already
        for task in serving { try? await task.value }
        for index in 1...count { try? FileManager.default.removeItem(atPath: configuration.dataDirectory + "-\(index)") }
        return try result.get()
    }

    /// A probe session logged in on each node is seen online by every other, then offline: each node's bus
    /// carries its events in order, so each has applied what every other published before.
    static func waitUntilNodesSeeEachOther(_ servers: [TestServer]) async throws {
        let app = AppID(openAppID)!
        for (index, server) in servers.enumerated() {
            let probe = RouterSession(appID: app, userID: UserID("probe-\(index)")!, sessionID: "probe-\(index)", sink: RecordingSink())
            server.application.broker.login(probe)
            for other in servers where other.port != server.port {
                guard await waitUntil({ other.application.broker.onlineStatus(of: [probe.userID], in: app) == [.online] }) else {
                    throw ClusterStartError(problem: "node on port \(other.port) does not see the node on port \(server.port)")
                }
            }
            server.application.broker.logout(probe)
            for other in servers where other.port != server.port {
                _ = await waitUntil { other.application.broker.onlineStatus(of: [probe.userID], in: app) == [.offline] }
            }
        }
    }

    struct ClusterStartError: Error {
        var problem: String
    }

    static func token(for user: String, expire: UInt32 = 3600) -> String {
        RTMToken.build007(appID: appID, certificate: certificate, userID: user, expireSeconds: expire,
                          issuedAt: UInt32(Date().timeIntervalSince1970))
    }

    static var basicAuthorization: String {
        "Basic " + Data("\(customerID):\(customerSecret)".utf8).base64EncodedString()
    }
}

/// A REST answer as the tests look at it.
struct HTTPResult {
    var status: Int
    var headers: [String: String]
    var json: [String: Any]
    var code: String? { json["code"] as? String }
}

extension TestServer {
    /// POSTs `body` (raw bytes) to `path` under the app's base path with `headers`.
    func post(_ path: String, app: String = TestServer.appID, headers: [String: String] = ["Authorization": TestServer.basicAuthorization],
              body: String) async throws -> HTTPResult {
        try await post(path, app: app, headers: headers, bytes: ByteBuffer(string: body))
    }

    func post(_ path: String, app: String = TestServer.appID, headers: [String: String], bytes: ByteBuffer) async throws -> HTTPResult {
        var request = HTTPClientRequest(url: "\(baseURL)/dev/v2/project/\(app)/\(path)")
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(bytes)
        return try await HTTPClientRequestBuilder.run(request)
    }

    func peer(from: String, to: String, payload: String = "Hello", query: String = "",
              headers: [String: String] = ["Authorization": TestServer.basicAuthorization]) async throws -> HTTPResult {
        let body = try JSONSerialization.data(withJSONObject: ["destination": to, "payload": payload])
        return try await post("rtm/users/\(from)/peer_messages\(query)", headers: headers, body: String(decoding: body, as: UTF8.self))
    }

    func channelPost(from: String, channel: String, payload: String = "Hello", app: String = TestServer.appID) async throws -> HTTPResult {
        let body = try JSONSerialization.data(withJSONObject: ["channel_name": channel, "payload": payload])
        return try await post("rtm/users/\(from)/channel_messages", app: app, body: String(decoding: body, as: UTF8.self))
    }

    func get(_ path: String) async throws -> (Int, String) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + path), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 22)
        return (Int(response.status.code), String(buffer: body))
    }
}

/// GET requests with AsyncHTTPClient for tests.
enum HTTPClientRequestBuilder {
    static func get(_ url: String) -> HTTPClientRequest {
        HTTPClientRequest(url: url)
    }

    static func run(_ request: HTTPClientRequest) async throws -> HTTPResult {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 1 << 22)
        let json = (try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))) as? [String: Any] ?? [:]
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return HTTPResult(status: Int(response.status.code), headers: headers, json: json)
    }
}
