import Logging

/// Deletes expired offline messages and history past each app's retention, on the injected clock.
package struct RetentionSweeper: Sendable {
    package let stores: StoreBundle
    package let clock: any RTMClock
    package let limits: MessageService.Limits
    /// Time between sweeps.
    package let interval: Duration
    let logger: Logger

    package init(stores: StoreBundle, clock: any RTMClock, limits: MessageService.Limits, interval: Duration = .seconds(60),
                logger: Logger = Logger(label: "rtm.retention")) {
        self.stores = stores
        self.clock = clock
        self.limits = limits
        self.interval = interval
        self.logger = logger
    }

    /// One pass: returns how many offline messages and history records were removed.
    @discardableResult
    package func sweep() async throws -> (offline: Int, history: Int) {
        let now = clock.nowMilliseconds()
        let offline = try await stores.offline.deleteReceived(before: now - limits.offlineRetention.milliseconds)
        var history = 0
        for app in try await stores.apps.allApps() {
            let days = Int64(app.historyRetentionDays ?? limits.defaultHistoryRetentionDays)
            history += try await stores.history.deleteRecords(of: app.appID, before: now - days * 86_400_000)
        }
        return (offline, history)
    }

    /// Sweeps every `interval` until cancelled.
    package func run() async {
        while !Task.isCancelled {
            do {
                let removed = try await sweep()
                if removed.offline + removed.history > 0 {
                    logger.info("retention removed \(removed.offline) offline messages and \(removed.history) history records")
                }
            } catch {
                logger.error("retention sweep failed: \(error)")
            }
            do { try await clock.sleep(for: interval) } catch { return }
        }
    }
}
