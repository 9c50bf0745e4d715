import Foundation
import RTMTestSupport
import Synchronization

/// `rtm serve` as a child process: the executable built beside the tests, run through its own
/// `main` (signals, exit status), its standard output and error collected.
final class ServerProcess {
    private final class Printed: Sendable { let text = Mutex("") }

    let process = Process()
    private let output = Pipe()
    private let printed = Printed()

    /// The `rtm` executable built beside the test bundle.
    static func executable() -> String? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("rtm").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../.build/debug/rtm").standardized.path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts `rtm serve <arguments>`, under `ulimit -n descriptorLimit` if given.
    init(serve arguments: [String], descriptorLimit: Int? = nil, environment extra: [String: String] = [:]) throws {
        guard let executable = Self.executable() else {
            throw RTMTestError.unexpected("the rtm executable must be built beside the tests (swift build)")
        }
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let limit = descriptorLimit.map { "ulimit -n \($0) && " } ?? ""
        process.arguments = ["-c", #"\#(limit)exec "$0" serve "$@""#, executable] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        for (name, value) in extra { environment[name] = value }
        process.environment = environment
        process.standardOutput = output
        process.standardError = output   // the log (standard error) is read too
        let printed = self.printed
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            printed.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    deinit { stop() }

    /// What the process printed so far (standard output and error).
    var text: String { printed.text.withLock { $0 } }

    var pid: Int32 { process.processIdentifier }

    /// The port it announced (`listening on http://127.0.0.1:<port>`), after a bounded wait.
    func listeningPort() async throws -> Int {
        await waitUntil { text.contains("listening on http://") || !process.isRunning }
        let announced = text
        let digits = announced.range(of: "listening on http://127.0.0.1:").map { announced[$0.upperBound...].prefix { $0.isNumber } }
        guard let port = Int(digits ?? "") else { throw RTMTestError.unexpected("rtm serve did not announce a port: \(announced)") }
        return port
    }

    /// Waits (10 s per `rounds`) for the process to end; its exit status, or `nil` if it still runs.
    func exitStatus(rounds: Int = 1) async -> Int32? {
        for _ in 0..<rounds where process.isRunning { await waitUntil { !process.isRunning } }
        guard !process.isRunning else { return nil }
        return process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
    }

    /// Ends the process if it still runs (SIGKILL: its graceful shutdown would hold this thread, one
    /// of the few the tests share) and stops reading its output.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
    }
}
