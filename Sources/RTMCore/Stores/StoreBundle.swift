/// Every store the server uses, from one backend (in memory, SQLite or PostgreSQL).
package struct StoreBundle: Sendable {
    package var apps: any AppRegistry
    package var offline: any OfflineMessageStore
    package var history: any HistoryStore
    package var events: any EventLog
    /// Prepared history queries (in memory unless the backend shares them between nodes).
    package var historyHandles: any HistoryHandleStore

    package init(apps: any AppRegistry, offline: any OfflineMessageStore, history: any HistoryStore, events: any EventLog,
                 historyHandles: any HistoryHandleStore = InMemoryHistoryHandles()) {
        self.apps = apps
        self.offline = offline
        self.history = history
        self.events = events
        self.historyHandles = historyHandles
    }

    /// All in memory.
    package static func inMemory() -> StoreBundle {
        StoreBundle(apps: InMemoryAppRegistry(), offline: InMemoryOfflineMessageStore(), history: InMemoryHistoryStore(),
                    events: InMemoryEventLog())
    }
}
