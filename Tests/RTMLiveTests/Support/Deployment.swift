import RTMCore
import RTMServer
import Testing

/// Where a live suite runs: one server, or three nodes of one cluster on a throwaway PostgreSQL
/// (issue 12: the messaging, channel, presence, attribute and kick tests run on both).
enum Topology: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case oneServer, threeNodes

    var testDescription: String { rawValue }
}

/// The servers a test spreads its clients and REST calls over: `deployment[i]` is node `i` modulo
/// the number of nodes, so a test written for one server puts its parties on different nodes.
struct Deployment {
    let nodes: [TestServer]

    subscript(index: Int) -> TestServer { nodes[index % nodes.count] }

    /// Returns once every node has applied what the others published before the call. A cluster's
    /// views are eventually consistent (docs/CLUSTER.md): a test that acts on one node on what it did
    /// on another (a send to a user who just logged in elsewhere) waits for the bus first, as an
    /// app's backend would see a few milliseconds' lag. A no-op on one server.
    func settle() async throws {
        if nodes.count > 1 { try await TestServer.waitUntilNodesSeeEachOther(nodes) }
    }
}

extension TestServer {
    /// Starts `topology` (one server, or three cluster nodes), runs `body`, and stops it.
    static func on<T>(_ topology: Topology, _ configuration: ServerConfiguration = configuration(),
                      clock: any RTMClock = SystemClock(), _ body: (Deployment) async throws -> T) async throws -> T {
        switch topology {
        case .oneServer:
            try await with(configuration, clock: clock) { try await body(Deployment(nodes: [$0])) }
        case .threeNodes:
            try await cluster(nodes: 3, configuration, clock: clock) { try await body(Deployment(nodes: $0)) }
        }
    }
}
