import Foundation
import RTMClient
import RTMCore
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The backend REST client: dual-domain failover, what it retries, and its waits.
@Suite struct RESTClientFailoverTests {
    /// Records every delay; sleeps for real only when asked to.
    /// Records each delay; with a clock, the wait passes on that clock instead of the wall clock.
    final class RecordingSleeper: RTMSleeper {
        let delays = Mutex<[Duration]>([])
        let clock: ManualClock?
        init(advancing clock: ManualClock? = nil) { self.clock = clock }
        func sleep(for duration: Duration) async throws {
            delays.withLock { $0.append(duration) }
            clock?.advance(by: duration)
        }
    }

    /// A 127.0.0.1 URL on a port that was just free, so connections are refused.
    static func refusingURL() -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, length) }
        }
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        close(fd)
        return "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
    }

    static let basic = RTMRestClient.Credentials.basic(customerID: TestServer.customerID, secret: TestServer.customerSecret)

    @Test func firstURLRefusesSecondServes() async throws {
        try await TestServer.with { server in
            let dead = Self.refusingURL()
            let sleeper = RecordingSleeper()
            let attempts = Mutex<[String]>([])
            let client = RTMRestClient(baseURLs: [dead, server.baseURL], appID: TestServer.appID, credentials: Self.basic,
                                       sleeper: sleeper, onAttempt: { url in attempts.withLock { $0.append(url) } })
            let outcome = try await client.sendPeerMessage(from: "backend", to: "nobody", payload: "hi")
            #expect(outcome == .messageOffline)
            #expect(attempts.withLock { $0 } == [dead, dead, server.baseURL], "the same URL once more, then the next")
            #expect(sleeper.delays.withLock { $0 } == [.seconds(1), .seconds(3)])
        }
    }

    @Test func everyURLDownGivesUpAfterTheSchedule() async throws {
        let sleeper = RecordingSleeper()
        let client = RTMRestClient(baseURLs: [Self.refusingURL(), Self.refusingURL()], appID: TestServer.appID,
                                   credentials: Self.basic, sleeper: sleeper)
        await #expect(throws: RTMRestClient.Failure.unreachable(attempts: 4)) {
            _ = try await client.sendChannelMessage(from: "backend", channel: "room", payload: "hi")
        }
        #expect(sleeper.delays.withLock { $0 } == [.seconds(1), .seconds(3), .seconds(6)])
    }

    @Test func otherClientErrorsAreNotRetried() async throws {
        try await TestServer.with { server in
            let sleeper = RecordingSleeper()
            let attempts = Mutex(0)
            let client = RTMRestClient(baseURLs: [server.baseURL, server.baseURL], appID: TestServer.appID,
                                       credentials: .basic(customerID: TestServer.customerID, secret: "wrong"),
                                       sleeper: sleeper, onAttempt: { _ in attempts.withLock { $0 += 1 } })
            await #expect(throws: RTMRestClient.Failure.self) {
                _ = try await client.sendPeerMessage(from: "backend", to: "x", payload: "hi")
            }
            #expect(attempts.withLock { $0 } == 1)
            #expect(sleeper.delays.withLock { $0 }.isEmpty)
            let bad = RTMRestClient(baseURLs: [server.baseURL], appID: TestServer.appID, credentials: Self.basic, sleeper: sleeper)
            do {
                _ = try await bad.sendPeerMessage(from: "backend", to: " x", payload: "hi")
                Issue.record("expected 400")
            } catch {
                guard case .rejected(400, "invalid_parameter", _)? = error as? RTMRestClient.Failure else {
                    Issue.record("got \(error)"); return
                }
            }
        }
    }

    @Test func tooManyRequestsWaitsForRetryAfter() async throws {
        // The server's rate limit runs on a manual clock that only the client's waits move, so a slow
        // machine cannot refill the bucket between sends and hide the 429.
        let clock = ManualClock(startingAt: 1_800_000_000_000)
        try await TestServer.with(TestServer.configuration(), clock: clock) { server in
            let sleeper = RecordingSleeper(advancing: clock)
            let client = RTMRestClient(baseURLs: [server.baseURL], appID: TestServer.limitedAppID, credentials: Self.basic,
                                       sleeper: sleeper)
            for _ in 0..<4 {
                let outcome = try await client.sendChannelMessage(from: "backend", channel: "room", payload: "hi")
                #expect(outcome == .messageSent)
            }
            let delays = sleeper.delays.withLock { $0 }
            #expect(!delays.isEmpty && delays.allSatisfy { $0 >= .seconds(1) }, "waited as Retry-After said: \(delays)")
        }
    }
}
