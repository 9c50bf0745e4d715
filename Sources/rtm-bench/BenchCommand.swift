import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore

/// `rtm-bench`: drives a running server (swift-rtm, or nginx+nchan for comparison) over loopback and
/// prints one JSON line per figure, with the CPU the server and the generator used.

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtm-bench",
        abstract: "Load generator for swift-rtm and nginx+nchan (see scripts/bench.sh and BENCHMARKS.md).")

    enum Scenario: String, ExpressibleByArgument, CaseIterable {
        case publish, fanout, latency, ack, connections
    }

    @Argument(help: "publish | fanout | latency | ack | connections") var scenario: Scenario
    @Option(help: "rtm | nchan | trivial (nginx answering 200, the generator's ceiling)") var target: BenchTarget = .rtm
    @Option(help: "Server base URL.") var url = "http://127.0.0.1:8080"
    @Option(name: .customLong("subscribe-url"),
            help: "Where subscribers and the ack receiver connect (default: --url): another node of a cluster for cross-node figures, or several, comma-separated, which the subscribers are spread over in turn.")
    var subscribeURL: String?
    @Option(name: .customLong("user-prefix"),
            help: "Prefix of the subscribers' user ids (connections: distinct per generator process, or they log each other out).")
    var userPrefix: String?
    @Option(name: .customLong("server-pid"), help: "The server's pid, for its CPU and memory.") var serverPID: Int32 = 0
    @Option(name: .customLong("app-id")) var appID = "0123456789abcdef0123456789abcdef"
    @Option(name: .customLong("customer-id")) var customerID = "bench"
    @Option(name: .customLong("customer-secret")) var customerSecret = "bench-secret"
    @Option(help: "The app's certificate: swift-rtm subscribers then log in with 007 tokens.") var certificate: String?
    @Option(help: "Subscribers (publish: 0 or 100; fanout: 1000; latency: 10; connections: how many).") var subscribers = 0
    @Option(help: "Seconds of load.") var duration = 10
    @Option(help: "Concurrent publishing connections.") var concurrency = 16
    @Option(help: "Payload bytes.") var payload = 64
    @Option(help: "Messages per second (latency).") var rate = 200
    @Option(help: "Round trips (ack).") var count = 2000
    @Flag(help: "ack: start a round trip every 1/--rate s (several in flight) instead of one after another.") var paced = false
    @Flag(name: .customLong("login-only"), help: "connections: log in and join no channel.") var loginOnly = false
    @Option(help: "connections: handshakes in flight at once.") var opening = 256
    @Option(help: "Seconds to keep the connections open after measuring (connections; for profiling the server).") var hold = 0
    @Option(help: "A label for the JSON line.") var label = ""

    func run() async throws {
        let credentials = BenchCredentials(appID: appID, customerID: customerID, secret: customerSecret, certificate: certificate)
        let report = Report(scenario: scenario.rawValue, target: target.rawValue, label: label, serverPID: serverPID)
        switch scenario {
        case .publish, .fanout: try await publish(credentials: credentials, report: report)
        case .latency: try await latency(credentials: credentials, report: report)
        case .ack: try await ack(credentials: credentials, report: report)
        case .connections: try await connections(credentials: credentials, report: report)
        }
    }

    /// A fresh channel (`prefix` + a random number) with `--subscribers` subscribers ready on it, and a
    /// publisher for it.
    private func subscribedChannel(named prefix: String, user: String, recordLatency: Bool, credentials: BenchCredentials)
        async throws -> (String, Subscribers, Int, Publisher)
    {
        let channel = "\(prefix)\(UInt32.random(in: 0...UInt32.max))"
        let crowd = Subscribers(target: target, recordLatency: recordLatency)
        crowd.start(count: subscribers, endpoints: try subscribeEndpoints(), channel: channel, credentials: credentials,
                    userPrefix: userPrefix ?? user)
        let ready = await crowd.waitReady(subscribers)
        return (channel, crowd, ready, Publisher(target: target, endpoint: try Endpoint(url: url), credentials: credentials))
    }

    private func publish(credentials: BenchCredentials, report: Report) async throws {
        let (channel, crowd, ready, publisher) = try await subscribedChannel(named: "bench", user: "s", recordLatency: false,
                                                                             credentials: credentials)
        _ = try await publisher.flood(channel: channel, duration: .seconds(1), concurrency: concurrency, payloadBytes: payload)  // warm-up
        await crowd.waitQuiet()
        let deliveredBefore = crowd.delivered.load(ordering: .relaxed)
        report.begin()
        let (ok, failed, seconds) = try await publisher.flood(channel: channel, duration: .seconds(duration), concurrency: concurrency,
                                                         payloadBytes: payload)
        await crowd.waitQuiet()
        report.end(seconds: seconds)
        let delivered = crowd.delivered.load(ordering: .relaxed) - deliveredBefore
        report.emit([
            "subscribers": ready, "requests": ok, "failed_requests": failed, "requests_per_s": Double(ok) / seconds,
            "deliveries": delivered, "deliveries_per_s": Double(delivered) / seconds,
            "expected_deliveries": ok * ready,
        ])
        await crowd.stop()
    }

    private func latency(credentials: BenchCredentials, report: Report) async throws {
        let (channel, crowd, ready, publisher) = try await subscribedChannel(named: "lat", user: "l", recordLatency: true,
                                                                             credentials: credentials)
        _ = try await publisher.paced(channel: channel, rate: rate, duration: .seconds(1), concurrency: concurrency,
                                      payloadBytes: payload)  // warm-up
        await crowd.waitQuiet()
        let before = crowd.takeLatencies().count
        report.begin()
        let sent = try await publisher.paced(channel: channel, rate: rate, duration: .seconds(duration), concurrency: concurrency,
                                             payloadBytes: payload)
        await crowd.waitQuiet()
        report.end(seconds: Double(duration))
        let samples = Array(crowd.takeLatencies().dropFirst(before)).sorted()
        report.emit([
            "subscribers": ready, "sent": sent, "samples": samples.count, "rate": rate,
            "p50_ms": Self.percentile(samples, 0.50), "p99_ms": Self.percentile(samples, 0.99), "p999_ms": Self.percentile(samples, 0.999),
            "max_ms": Self.percentile(samples, 1.0),
        ])
        await crowd.stop()
    }

    private func ack(credentials: BenchCredentials, report: Report) async throws {
        guard target == .rtm else { throw ValidationError("ack is a swift-rtm scenario (nchan has no delivery acks)") }
        let receiverID = "ackrx\(UInt32.random(in: 0...UInt32.max))"
        let receiver = RTMClientShim(url: subscribeURLs[0], appID: credentials.appID)
        try await receiver.login(receiverID)
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        let url = self.url
        /// One round trip: its time if the answer was `message_delivered`.
        @Sendable func roundTrip() async throws -> UInt64? {
            var request = HTTPClientRequest(url: "\(url)/dev/v2/project/\(credentials.appID)/rtm/users/acktx/peer_messages?wait_for_ack=true")
            request.method = .POST
            request.headers.add(name: "Authorization", value: credentials.basic)
            request.body = .bytes(ByteBuffer(string: #"{"destination":"\#(receiverID)","payload":"ping"}"#))
            let sent = nowNanoseconds()
            let response = try await client.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 16)
            return String(buffer: body).contains("message_delivered") ? nowNanoseconds() - sent : nil
        }
        var samples: [UInt64] = []
        report.begin()
        let start = nowNanoseconds()
        if paced {
            let interval = 1e9 / Double(max(rate, 1))
            samples = try await withThrowingTaskGroup(of: UInt64?.self) { group in
                for index in 0..<count {
                    let due = start + UInt64(Double(index) * interval)
                    let now = nowNanoseconds()
                    if due > now { try await Task.sleep(nanoseconds: due - now) }
                    group.addTask { try await roundTrip() }
                }
                return try await group.reduce(into: []) { if let sample = $1 { $0.append(sample) } }
            }
        } else {
            for _ in 0..<count { if let sample = try await roundTrip() { samples.append(sample) } }
        }
        let seconds = Double(nowNanoseconds() - start) / 1e9
        report.end(seconds: seconds)
        samples.sort()
        report.emit(["round_trips": samples.count, "paced_rate": paced ? rate : 0, "p50_ms": Self.percentile(samples, 0.5), "p99_ms": Self.percentile(samples, 0.99),
                     "round_trips_per_s": Double(samples.count) / seconds])
        await receiver.close()
        try await client.shutdown()
    }

    private func connections(credentials: BenchCredentials, report: Report) async throws {
        let before = residentBytes(pid: serverPID)
        let crowd = Subscribers(target: target, recordLatency: false, openingAtOnce: opening)
        report.begin()
        let start = nowNanoseconds()
        // Every connection subscribes to (nchan) or logs in and joins (swift-rtm) one channel, "idle".
        crowd.start(count: subscribers, endpoints: try subscribeEndpoints(), channel: "idle", credentials: credentials,
                    userPrefix: userPrefix ?? "c", loginOnly: loginOnly)
        let ready = await crowd.waitReady(subscribers, limit: .seconds(600))
        let seconds = Double(nowNanoseconds() - start) / 1e9
        report.end(seconds: seconds)
        try? await Task.sleep(for: .seconds(3))
        let after = residentBytes(pid: serverPID)
        report.emit(["connections": ready, "failed": crowd.failed.load(ordering: .relaxed), "setup_per_s": Double(ready) / seconds,
                     "server_rss_before_mb": Double(before) / 1_048_576, "server_rss_after_mb": Double(after) / 1_048_576,
                     "bytes_per_connection": ready > 0 ? (after - before) / ready : 0,
                     "generator_rss_mb": Double(residentBytes(pid: getpid())) / 1_048_576])
        if hold > 0 { try? await Task.sleep(for: .seconds(min(hold, 3600))) }
        await crowd.stop()
    }

    /// `--subscribe-url`'s URLs (else `--url`).
    private var subscribeURLs: [String] {
        let listed = (subscribeURL ?? "").split(separator: ",").map { String($0) }.filter { !$0.isEmpty }
        return listed.isEmpty ? [url] : listed
    }

    private func subscribeEndpoints() throws -> [Endpoint] { try subscribeURLs.map { try Endpoint(url: $0) } }

    static func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let index = min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)
        return Double(sorted[max(0, index)]) / 1e6
    }
}

/// CPU accounting and one JSON line per figure.
final class Report: @unchecked Sendable {
    let scenario: String, target: String, label: String, serverPID: Int32
    private var serverCPU = 0.0, selfCPU = 0.0, seconds = 1.0

    init(scenario: String, target: String, label: String, serverPID: Int32) {
        self.scenario = scenario; self.target = target; self.label = label; self.serverPID = serverPID
    }

    func begin() {
        serverCPU = serverPID > 0 ? cpuSeconds(pid: serverPID) : 0
        selfCPU = cpuSeconds(pid: getpid())
    }

    func end(seconds: Double) {
        self.seconds = max(seconds, 0.001)
        serverCPU = serverPID > 0 ? cpuSeconds(pid: serverPID) - serverCPU : 0
        selfCPU = cpuSeconds(pid: getpid()) - selfCPU
    }

    func emit(_ figures: [String: Any]) {
        var line = figures
        line["scenario"] = scenario
        line["target"] = target
        if !label.isEmpty { line["label"] = label }
        line["seconds"] = seconds
        line["server_cpu_pct"] = serverCPU / seconds * 100
        line["generator_cpu_pct"] = selfCPU / seconds * 100
        let data = (try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
        fflush(nil)   // every stream: a generator that holds its connections afterwards must not sit on its line
    }
}
