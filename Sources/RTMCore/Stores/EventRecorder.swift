import Logging
import Metrics
import Synchronization

/// Collects user and channel events without blocking (the router calls it under its lock) and
/// writes them to the ``EventLog`` in batches from one background task.
package final class EventRecorder: Sendable {
    private struct State {
        var buffer: [RTMEvent] = []
        var waiter: CheckedContinuation<Void, Never>?
        var writing = false
    }

    private let log: any EventLog
    private let capacity: Int
    private let state = Mutex(State())
    private let logger: Logger
    private let dropped = Counter(label: "rtm_events_dropped_total")
    /// Events waiting to be written, at most; past this the newest are dropped (and counted).
    package let maximumBacklog: Int

    /// - Parameter capacity: events kept per app and feed by the log (2,000).
    package init(log: any EventLog, capacity: Int = 2_000, maximumBacklog: Int = 50_000, logger: Logger = Logger(label: "rtm.events")) {
        self.log = log
        self.capacity = capacity
        self.maximumBacklog = maximumBacklog
        self.logger = logger
    }

    /// Queues an event; never blocks.
    package func record(_ event: RTMEvent) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.buffer.count < maximumBacklog else {
                dropped.increment()
                return nil
            }
            state.buffer.append(event)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Writes queued events until cancelled; what is queued at cancellation is written before returning.
    package func run() async {
        while true {
            let batch = await nextBatch()
            if !batch.isEmpty {
                do { try await log.append(batch, capacity: capacity) } catch { logger.error("event log write failed: \(error)") }
            }
            state.withLock { $0.writing = false }
            if Task.isCancelled && state.withLock({ $0.buffer.isEmpty }) { return }
        }
    }

    /// Waits (up to 10 s) until everything recorded so far is written, so a reader sees it.
    /// Only ``run()`` writes, which keeps events in order.
    package func flush() async {
        for _ in 0..<10_000 {
            if state.withLock({ $0.buffer.isEmpty && !$0.writing }) { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    private func nextBatch() async -> [RTMEvent] {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if !state.buffer.isEmpty || Task.isCancelled { return true }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
        return state.withLock { state in
            defer { state.buffer.removeAll(keepingCapacity: true) }
            state.writing = !state.buffer.isEmpty
            return state.buffer
        }
    }
}
