import Foundation
import RTMCore
import RTMServer
import Testing

/// The HTTP deadlines run on the server's injected clock: a ``ManualClock`` moves them, nothing sleeps
/// for them, and a connection is never closed before its deadline on that clock.
@Suite struct HTTPDeadlineClockTests {
    /// Advances `clock` by `step` until `connection` closes (at most `limit` steps); how far it moved,
    /// or `nil` if it stayed open.
    static func advanceUntilClosed(_ connection: RawTCP, clock: ManualClock, step: Duration, limit: Int) async -> Duration? {
        var moved = Duration.zero
        for _ in 0..<limit {
            clock.advance(by: step)
            moved += step
            for _ in 0..<20 where !connection.isClosed { try? await Task.sleep(for: .milliseconds(10)) }
            if connection.isClosed { return moved }
        }
        return nil
    }

    @Test func deadlinesRunOnTheInjectedClock() async throws {
        let clock = ManualClock()
        var configuration = TestServer.configuration()
        configuration.idleTimeout = .seconds(75)
        configuration.headerReadTimeout = .seconds(10)
        try await TestServer.with(configuration, clock: clock) { server in
            // A new connection that sends nothing: closed once the clock passes the header-read deadline.
            let silent = try await RawTCP.connect(port: server.port)
            let headerClose = await Self.advanceUntilClosed(silent, clock: clock, step: .seconds(1), limit: 40)
            #expect(headerClose.map { $0 >= .seconds(10) } == true, "closed after \(String(describing: headerClose))")

            // A kept-alive connection after its answer: closed once the clock passes the idle deadline.
            let kept = try await RawTCP.connect(port: server.port)
            try await kept.send(HTTPConnectionTests.healthz)
            #expect(await kept.statuses() == [200])
            let idleClose = await Self.advanceUntilClosed(kept, clock: clock, step: .seconds(5), limit: 40)
            #expect(idleClose.map { $0 >= .seconds(75) } == true, "closed after \(String(describing: idleClose))")
        }
    }
}
