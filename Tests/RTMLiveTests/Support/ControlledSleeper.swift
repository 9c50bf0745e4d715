import RTMClient
import Synchronization

/// An ``RTMSleeper`` whose sleeps end only when the test says so; it records every delay asked for.
final class ControlledSleeper: RTMSleeper {
    private struct Sleeper {
        var duration: Duration
        var continuation: CheckedContinuation<Void, any Error>
    }
    private let state = Mutex<(next: Int, sleepers: [Int: Sleeper], history: [Duration])>((0, [:], []))

    /// Every delay requested, in order.
    var history: [Duration] { state.withLock { $0.history } }

    func sleep(for duration: Duration) async throws {
        let id = state.withLock { state -> Int in
            state.next += 1
            state.history.append(duration)
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                state.withLock { $0.sleepers[id] = Sleeper(duration: duration, continuation: continuation) }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Ends the sleeps of exactly `duration`; returns how many ended. Waits (up to 20 s: the full suite
    /// runs clusters beside it on 2 cores) for one to exist.
    @discardableResult
    func fire(_ duration: Duration) async -> Int {
        for _ in 0..<2_000 {
            let due = state.withLock { state -> [Sleeper] in
                let matching = state.sleepers.filter { $0.value.duration == duration }
                for key in matching.keys { state.sleepers.removeValue(forKey: key) }
                return Array(matching.values)
            }
            if !due.isEmpty {
                for sleeper in due { sleeper.continuation.resume() }
                return due.count
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return 0
    }
}
