import Foundation
import Testing

/// `rtm serve` as a child process with a low file-descriptor limit, flooded with connections: it
/// accepts no more than its connection budget, so its descriptors never run out (libdispatch traps
/// with SIGILL when they do, see `ConnectionBudget`), the rest wait in the listen backlog, and once
/// they are released it serves again.
@Suite struct FileDescriptorExhaustionTests {
    /// A GET /healthz on a new connection: its status, or `nil` if none came (bounded wait).
    static func healthz(port: Int) async -> Int? {
        guard let connection = try? await RawTCP.connect(port: port) else { return nil }
        defer { connection.close() }
        try? await connection.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        return await connection.statuses().first
    }

    /// How many descriptors process `pid` has open (`nil` once it is gone).
    static func openDescriptors(pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    @Test func aConnectionFloodNeverUsesUpTheDescriptors() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rtm-fd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("rtm.yaml").path
        // Long deadlines: the held connections must keep their descriptors for the test's length.
        try "idle_timeout_seconds: 300\nheader_read_timeout_seconds: 300\n".write(toFile: config, atomically: true, encoding: .utf8)

        let server = try ServerProcess(serve: ["--port", "0", "--data-dir", directory.appendingPathComponent("data").path, "--config", config],
                                       descriptorLimit: 64)
        defer { server.stop() }
        let process = server.process
        let port = try await server.listeningPort()
        #expect(await Self.healthz(port: port) == 200)

        // 200 connections against a limit of 64 (a budget of 32): the kernel completes them all, the
        // server accepts its budget and leaves the rest in the backlog.
        var held: [RawTCP] = []
        for _ in 0..<200 {
            guard let connection = try? await RawTCP.connect(port: port) else { break }
            held.append(connection)
        }
        #expect(held.count > 64)
        // Full: a new request waits in the backlog while they are held (the bounded wait passes)...
        #expect(await Self.healthz(port: port) == nil)
        #expect(process.isRunning)
        // ...and the server never came near its limit while it waited.
        var mostOpen = 0
        for _ in 0..<10 {
            mostOpen = max(mostOpen, Self.openDescriptors(pid: process.processIdentifier) ?? 0)
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(mostOpen > 32, "the server accepted its budget")
        #expect(mostOpen < 64, "the server used up its descriptors: \(mostOpen) open")
        #expect(server.text.contains("connection budget reached"), "the full budget is logged")

        for connection in held { connection.close() }
        var answered = false
        for _ in 0..<10 where !answered && process.isRunning {
            answered = await Self.healthz(port: port) == 200
        }
        #expect(answered, "no answer after the connections were released")
        #expect(process.isRunning, "the server ended: status \(process.terminationStatus), reason \(process.terminationReason.rawValue)")
    }
}
