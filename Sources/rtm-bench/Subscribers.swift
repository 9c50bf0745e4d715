import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A crowd of WebSocket subscribers that count what they receive and, if asked, how late it was.
final class Subscribers: Sendable {
    let delivered = Atomic<Int>(0)
    let ready = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let recordLatency: Bool
    private let latencies = Mutex<[UInt64]>([])
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let stopping = Atomic<Bool>(false)

    init(recordLatency: Bool) {
        self.recordLatency = recordLatency
    }

    /// Opens `count` subscribers of `channel`, all from 127.0.0.1 (enough below the 20,000
    /// open files this machine allows per process; spreading source addresses is not implemented).
    func start(count: Int, target: BenchTarget, base: String, channel: String, credentials: BenchCredentials,
               userPrefix: String) {
        for index in 0..<count {
            let url = target.subscribeURL(base: base, channel: channel)
            let handshake = target.subscribeHandshake(channel: channel, user: "\(userPrefix)\(index)", credentials: credentials)
            let task = Task {
                var configuration = WebSocketClientConfiguration()
                configuration.maxFrameSize = 1 << 16
                configuration.autoPing = .disabled
                let client = WebSocketClient(url: url, configuration: configuration, logger: Logger(label: "bench")) { inbound, outbound, _ in
                    for frame in handshake { try await outbound.write(.text(frame)) }
                    if handshake.isEmpty { self.ready.add(1, ordering: .relaxed) }
                    var joined = handshake.isEmpty
                    for try await frame in inbound.messages(maxSize: 1 << 16) {
                        guard case .text(let text) = frame else { continue }
                        if !joined {
                            if text.hasPrefix(#"{"reply":2,"#) { joined = true; self.ready.add(1, ordering: .relaxed) }
                            continue
                        }
                        guard let payload = target.payload(of: text) else { continue }
                        self.delivered.add(1, ordering: .relaxed)
                        if self.recordLatency, let bar = payload.firstIndex(of: "|"), let sent = UInt64(payload[..<bar]) {
                            let now = nowNanoseconds()
                            self.latencies.withLock { $0.append(now > sent ? now - sent : 0) }
                        }
                    }
                }
                do { try await client.run() } catch {
                    if !self.stopping.load(ordering: .relaxed) { self.failed.add(1, ordering: .relaxed) }
                }
            }
            tasks.withLock { $0.append(task) }
        }
    }

    /// Waits until `count` are ready (or `limit` passes); returns how many are.
    func waitReady(_ count: Int, limit: Duration = .seconds(120)) async -> Int {
        let deadline = ContinuousClock.now + limit
        while ready.load(ordering: .relaxed) + failed.load(ordering: .relaxed) < count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return ready.load(ordering: .relaxed)
    }

    /// Waits until deliveries stop growing for `quiet`.
    func waitQuiet(_ quiet: Duration = .milliseconds(500), limit: Duration = .seconds(30)) async {
        let deadline = ContinuousClock.now + limit
        var last = -1
        while ContinuousClock.now < deadline {
            let now = delivered.load(ordering: .relaxed)
            if now == last { return }
            last = now
            try? await Task.sleep(for: quiet)
        }
    }

    func takeLatencies() -> [UInt64] { latencies.withLock { $0 } }

    func stop() async {
        stopping.store(true, ordering: .relaxed)
        let all = tasks.withLock { $0 }
        for task in all { task.cancel() }
        for task in all { await task.value }
    }
}
