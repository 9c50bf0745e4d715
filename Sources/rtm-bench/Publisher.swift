import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// Sends REST publishes as fast as `concurrency` keep-alive connections allow, or at a fixed rate.
struct Publisher: Sendable {
    let client: HTTPClient
    let target: BenchTarget
    let base: String
    let credentials: BenchCredentials

    static func makeClient(connections: Int) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
        configuration.timeout.read = .seconds(30)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Publishes for `duration` with `concurrency` loops; returns (successes, failures, elapsed seconds).
    func flood(channel: String, duration: Duration, concurrency: Int, payloadBytes: Int) async -> (Int, Int, Double) {
        let ok = SharedCount(), failed = SharedCount()
        let start = ContinuousClock.now
        let deadline = start + duration
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while ContinuousClock.now < deadline {
                        let payload = Self.payload(bytes: payloadBytes)
                        if await self.post(channel: channel, payload: payload) { ok.value.add(1, ordering: .relaxed) }
                        else { failed.value.add(1, ordering: .relaxed) }
                    }
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        return (ok.value.load(ordering: .relaxed), failed.value.load(ordering: .relaxed), Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// Publishes `rate` messages per second for `duration`, each stamped with its send time.
    func paced(channel: String, rate: Int, duration: Duration, payloadBytes: Int) async -> Int {
        let interval = Duration.nanoseconds(1_000_000_000 / rate)
        let count = Int(duration.components.seconds) * rate
        let start = ContinuousClock.now
        var sent = 0
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                let due = start + interval * index
                try? await Task.sleep(until: due, clock: .continuous)
                sent += 1
                group.addTask { _ = await self.post(channel: channel, payload: Self.payload(bytes: payloadBytes)) }
            }
        }
        return sent
    }

    /// `<send ns>|xxxx…` padded to `bytes`.
    static func payload(bytes: Int) -> String {
        let stamp = "\(nowNanoseconds())|"
        return stamp + String(repeating: "x", count: max(0, bytes - stamp.utf8.count))
    }

    func post(channel: String, payload: String) async -> Bool {
        do {
            let response = try await client.execute(target.publishRequest(base: base, channel: channel, payload: payload,
                                                                          credentials: credentials), timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 16)
            return (200..<300).contains(Int(response.status.code))
        } catch {
            return false
        }
    }
}

/// An atomic counter that task-group closures may capture.
final class SharedCount: Sendable {
    let value = Atomic<Int>(0)
}
