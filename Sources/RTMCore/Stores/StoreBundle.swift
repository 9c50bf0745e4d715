/// Every store the server uses, from one backend (in memory, SQLite or PostgreSQL).
public struct StoreBundle: Sendable {
    public var apps: any AppRegistry
    public var offline: any OfflineMessageStore
    public var history: any HistoryStore
    public var events: any EventLog

    public init(apps: any AppRegistry, offline: any OfflineMessageStore, history: any HistoryStore, events: any EventLog) {
        self.apps = apps
        self.offline = offline
        self.history = history
        self.events = events
    }

    /// All four in memory.
    public static func inMemory() -> StoreBundle {
        StoreBundle(apps: InMemoryAppRegistry(), offline: InMemoryOfflineMessageStore(), history: InMemoryHistoryStore(),
                    events: InMemoryEventLog())
    }
}
