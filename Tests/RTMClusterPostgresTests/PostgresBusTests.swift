import Logging
import PostgresNIO
import RTMCluster
import RTMClusterPostgres
import RTMStorePostgres
import RTMTestSupport
import Synchronization
import Testing

/// The bus on a real PostgreSQL (the test command's throwaway server): two nodes on one database.
@Suite(.serialized) struct PostgresBusTests {
    /// A node's bus with its store's pool and listener running, and what it received so far.
    final class Node: Sendable {
        let store: PostgresStore
        let bus: PostgresBus
        let received = Mutex<[BusDelivery]>([])
        private let tasks: Mutex<[Task<Void, Never>]> = Mutex([])

        init(_ name: String, url: String, settings: PostgresBus.Settings = PostgresBus.Settings()) async throws {
            store = try PostgresStore(url: url, logger: Logger(label: "rtm.test.\(name)"))
            bus = PostgresBus(nodeID: name, store: store, settings: settings, logger: Logger(label: "rtm.test.bus.\(name)"))
            let store = self.store, bus = self.bus
            let running: [Task<Void, Never>] = [
                Task { await store.run() },
                Task { try? await bus.run() },
                Task { [self] in
                    for await delivery in bus.deliveries { self.received.withLock { $0.append(delivery) } }
                },
            ]
            tasks.withLock { $0 = running }
            try await store.migrate()
        }

        var events: [BusEnvelope] {
            received.withLock { $0.compactMap { if case .event(let envelope) = $0 { envelope } else { nil } } }
        }
        var resyncs: Int { received.withLock { $0.filter { $0 == .resync }.count } }

        func stop() { tasks.withLock { $0.forEach { $0.cancel() } } }
    }

    static func nodes(_ names: String...) async throws -> [Node] {
        let url = try await StoreBackend.freshPostgresDatabase()
        var nodes: [Node] = []
        for name in names { nodes.append(try await Node(name, url: url)) }
        // Each listens (its first resync) before anything is published.
        for node in nodes { #expect(await waitUntil { node.resyncs == 1 }, "\(node.bus.nodeID) listens") }
        return nodes
    }

    @Test func everyNodeReceivesEveryEventInTheSameOrder() async throws {
        let nodes = try await Self.nodes("a", "b")
        let (a, b) = (nodes[0], nodes[1])
        try await a.bus.publish(["one", "two"])
        try await b.bus.publish(["three"])
        try await a.bus.publish(["four", "four"])   // identical bodies in one transaction both arrive
        for node in nodes { #expect(await waitUntil { node.events.count == 5 }, "\(node.bus.nodeID): \(node.events)") }
        #expect(a.events == b.events, "one order everywhere")
        #expect(a.events.map(\.body) == ["one", "two", "three", "four", "four"])
        #expect(a.events.map(\.origin) == ["a", "a", "b", "a", "a"])
        #expect(a.events.filter { $0.origin == "a" }.map(\.sequence) == [1, 2, 3, 4])
        nodes.forEach { $0.stop() }
    }

    @Test func aBodyTooLargeForANotificationTravelsByReference() async throws {
        let nodes = try await Self.nodes("a", "b")
        let large = String(repeating: "é😀 ", count: 4_000)   // 28,000 bytes
        try await nodes[0].bus.publish(["before", large, "after"])
        #expect(await waitUntil { nodes[1].events.count == 3 })
        #expect(nodes[1].events.map(\.body) == ["before", large, "after"])
        // Stored bodies are kept for a while, then deleted by any node.
        try await nodes[1].bus.deleteOldBodies()
        #expect(try await Self.storedBodies(nodes[1].store) == 1, "younger than the retention")
        nodes.forEach { $0.stop() }
    }

    /// Stored bodies are deleted by the listeners' housekeeping once older than the retention.
    @Test func storedBodiesAreDeletedAfterTheirRetention() async throws {
        let url = try await StoreBackend.freshPostgresDatabase()
        var settings = PostgresBus.Settings()
        settings.keepAliveInterval = .seconds(1)
        settings.bodyRetention = .seconds(1)
        let node = try await Node("a", url: url, settings: settings)
        #expect(await waitUntil { node.resyncs == 1 })
        try await node.bus.publish([String(repeating: "x", count: 10_000)])
        #expect(await waitUntil { node.events.count == 1 })
        #expect(await waitUntil { (try? await Self.storedBodies(node.store)) == 0 }, "deleted without anyone calling deleteOldBodies")
        node.stop()
    }

    @Test func aDroppedListeningConnectionIsReconnectedAndAResyncAnnounced() async throws {
        let nodes = try await Self.nodes("a", "b")
        let (a, b) = (nodes[0], nodes[1])
        // Kill b's listening connection the way a network failure or a restarted server would.
        for try await _ in try await a.store.client.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'rtm-bus-%' AND datname = current_database()",
            logger: Logger(label: "rtm.test")) {}
        #expect(await waitUntil { b.resyncs >= 2 && a.resyncs >= 2 }, "both listeners were cut; each listens again and says so")
        try await a.bus.publish(["after the cut"])
        #expect(await waitUntil { b.events.last?.body == "after the cut" })
        nodes.forEach { $0.stop() }
    }

    static func storedBodies(_ store: PostgresStore) async throws -> Int {
        var count = 0
        for try await value in try await store.client.query("SELECT count(*) FROM rtm_bus_body", logger: Logger(label: "rtm.test"))
            .decode(Int.self) { count = value }
        return count
    }
}
