/// Every store the server uses, from one backend (in memory, SQLite or PostgreSQL).
package struct StoreBundle: Sendable {
    package var apps: any AppRegistry
    package var offline: any OfflineMessageStore
    package var history: any HistoryStore
    package var events: any EventLog

    package init(apps: any AppRegistry, offline: any OfflineMessageStore, history: any HistoryStore, events: any EventLog) {
        self.apps = apps
        self.offline = offline
        self.history = history
        self.events = events
    }

    /// All four in memory.
    package static func inMemory() -> StoreBundle {
        StoreBundle(apps: InMemoryAppRegistry(), offline: InMemoryOfflineMessageStore(), history: InMemoryHistoryStore(),
                    events: InMemoryEventLog())
    }
}
