import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The source of time for everything with a timeout, window or expiry.
package protocol RTMClock: Sendable {
    /// Wall-clock time in milliseconds since the Unix epoch.
    func nowMilliseconds() -> Int64
    /// Suspends for `duration` of this clock's time; throws on cancellation.
    func sleep(for duration: Duration) async throws
    /// Runs `work` once this clock reads `deadline` (ms since the epoch), unless cancelled first. A
    /// clock on real time schedules it on `eventLoop` (no task is kept while it waits); the default
    /// is a task sleeping on this clock (so a ``ManualClock`` drives it).
    func schedule(atMilliseconds deadline: Int64, on eventLoop: any EventLoop, _ work: @escaping @Sendable () -> Void) -> any RTMTimer
}

/// A pending ``RTMClock/schedule(atMilliseconds:on:_:)``.
package protocol RTMTimer: Sendable {
    /// Stops the work from running if it has not run yet.
    func cancel()
}

/// A timer that is a task sleeping on its clock.
struct TaskTimer: RTMTimer {
    let task: Task<Void, Never>
    func cancel() { task.cancel() }
}

/// A timer that is a task scheduled on an event loop.
struct EventLoopTimer: RTMTimer {
    let scheduled: Scheduled<Void>
    func cancel() { scheduled.cancel() }
}

extension RTMClock {
    /// Wall-clock time in whole seconds since the Unix epoch.
    package func nowSeconds() -> Int64 { nowMilliseconds() / 1000 }

    /// Suspends until the wall clock reads `deadline` (ms since the epoch); returns at once if it has.
    /// Deadlines fixed before a task starts do not drift with the task's start.
    package func sleep(untilMilliseconds deadline: Int64) async throws {
        let remaining = deadline - nowMilliseconds()
        if remaining > 0 { try await sleep(for: .milliseconds(remaining)) }
    }

    package func schedule(atMilliseconds deadline: Int64, on eventLoop: any EventLoop,
                         _ work: @escaping @Sendable () -> Void) -> any RTMTimer {
        TaskTimer(task: Task {
            do { try await sleep(untilMilliseconds: deadline) } catch { return }
            work()
        })
    }
}

/// The real clock.
package struct SystemClock: RTMClock {
    package init() {}
    package func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
    package func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }

    /// Scheduled on the event loop: a waiting timer costs a scheduled task (a few hundred bytes), not
    /// a sleeping Swift task (kilobytes).
    package func schedule(atMilliseconds deadline: Int64, on eventLoop: any EventLoop,
                         _ work: @escaping @Sendable () -> Void) -> any RTMTimer {
        let delay = max(0, deadline - nowMilliseconds())
        return EventLoopTimer(scheduled: eventLoop.scheduleTask(in: .milliseconds(delay)) { work() })
    }
}

/// A clock that moves only when a test calls ``advance(by:)``; sleepers wake when their deadline passes.
package final class ManualClock: RTMClock {
    private struct Sleeper {
        var deadline: Int64
        var continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        var now: Int64
        var sleepers: [Int: Sleeper] = [:]
        var nextID = 0
    }
    private let state: Mutex<State>

    /// Starts at `milliseconds` since the epoch.
    package init(startingAt milliseconds: Int64 = 1_700_000_000_000) {
        state = Mutex(State(now: milliseconds))
    }

    package func nowMilliseconds() -> Int64 { state.withLock { $0.now } }

    /// The number of tasks currently sleeping on this clock.
    package var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    package func sleep(for duration: Duration) async throws {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // A task cancelled before this point already ran `onCancel` (finding nothing to resume),
                // so the check must happen here, under the lock, or the sleeper would wait forever.
                let outcome = state.withLock { state -> Bool? in
                    if Task.isCancelled { return false }
                    if milliseconds <= 0 { return true }
                    state.sleepers[id] = Sleeper(deadline: state.now + milliseconds, continuation: continuation)
                    return nil
                }
                switch outcome {
                case true?: continuation.resume()
                case false?: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline is reached.
    package func advance(by duration: Duration) {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        let due = state.withLock { state -> [Sleeper] in
            state.now += milliseconds
            let ready = state.sleepers.filter { $0.value.deadline <= state.now }
            for key in ready.keys { state.sleepers.removeValue(forKey: key) }
            return ready.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}
