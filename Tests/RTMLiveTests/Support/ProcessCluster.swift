import Foundation
import NIOCore
import RTMTestSupport

/// `rtm serve` child processes as the nodes of one cluster on a fresh database of the test
/// PostgreSQL (node ids `node-1`…), with short leases. Each node keeps its port and data directory
/// across a restart, as a node behind a load balancer would. Tests end them with ``stop()``.
final class ProcessCluster {
    static let appID = "0123456789abcdef0123456789abcdef"
    static let authorization = "Basic " + Data("cluster-customer:cluster-secret-123456".utf8).base64EncodedString()

    let directory: URL
    private(set) var ports: [Int]
    private(set) var nodes: [ServerProcess] = []
    private let configPath: String
    private let databaseURL: String

    /// Starts `count` nodes and waits until each listens. `lease` and `renewal` are the node lease
    /// settings in seconds; a send waits `ackTimeout` seconds for its ack.
    init(nodes count: Int, lease: Int = 2, renewal: Int = 1, ackTimeout: Int = 60) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rtm-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        configPath = directory.appendingPathComponent("rtm.yaml").path
        try """
        ack_timeout_seconds: \(ackTimeout)
        node_lease_seconds: \(lease)
        node_lease_renewal_seconds: \(renewal)
        apps:
          - app_id: \(Self.appID)
        customers:
          - id: cluster-customer
            secret: cluster-secret-123456

        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        databaseURL = try await StoreBackend.freshPostgresDatabase()
        ports = try (1...count).map { _ in try Self.freePort() }
        for index in 0..<count {
            // A port picked free may be taken before the node binds it (by another test's connection):
            // the first start picks again, up to three times; a restart keeps the port.
            for attempt in 1...3 {
                do {
                    nodes.append(try await start(index))
                    break
                } catch where attempt < 3 {
                    ports[index] = try Self.freePort()
                }
            }
        }
    }

    deinit { stop() }

    /// Starts node `index` (from 0) on its port and waits until it listens.
    private func start(_ index: Int) async throws -> ServerProcess {
        let node = try ServerProcess(serve: ["--port", "\(ports[index])", "--config", configPath, "--database-url", databaseURL,
                                             "--data-dir", directory.appendingPathComponent("data-\(index + 1)").path,
                                             "--node-id", "node-\(index + 1)"])
        guard try await node.listeningPort() == ports[index] else {
            throw RTMTestError.unexpected("node-\(index + 1) did not listen on \(ports[index])")
        }
        return node
    }

    /// Starts node `index` again (after it stopped) with the same id, port and data directory.
    func restart(_ index: Int) async throws {
        nodes[index].stop()
        nodes[index] = try await start(index)
    }

    /// Kills every node that still runs and removes the files.
    func stop() {
        for node in nodes { node.stop() }
        try? FileManager.default.removeItem(at: directory)
    }

    func wsURL(_ index: Int) -> String { "ws://127.0.0.1:\(ports[index])/v1/ws" }

    /// Whether node `index` answers `GET /readyz` with 200.
    func ready(_ index: Int) async throws -> Bool {
        try await HTTPClientRequestBuilder.run(HTTPClientRequestBuilder.get("http://127.0.0.1:\(ports[index])/readyz")).status == 200
    }

    /// A REST peer message from "backend" through node `index`; its status and `code`.
    func peer(through index: Int, to user: String, payload: String, query: String = "") async throws -> (status: Int, code: String?) {
        try await Self.peer(port: ports[index], to: user, payload: payload, query: query)
    }

    /// A REST peer message from "backend" through `port`, stored for an offline receiver if
    /// `offline`; its status and `code`.
    static func peer(port: Int, to user: String, payload: String, query: String = "", offline: Bool = false) async throws
        -> (status: Int, code: String?) {
        var request = HTTPClientRequestBuilder.get("http://127.0.0.1:\(port)/dev/v2/project/\(appID)/rtm/users/backend/peer_messages\(query)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: authorization)
        request.body = .bytes(ByteBuffer(string: #"{"destination":"\#(user)","payload":"\#(payload)","enable_offline_messaging":\#(offline)}"#))
        let result = try await HTTPClientRequestBuilder.run(request)
        return (result.status, result.code)
    }

    /// A port of 127.0.0.1 nothing listens on now (the kernel's pick for a socket bound to port 0).
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw RTMTestError.unexpected("socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else { throw RTMTestError.unexpected("bind() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
