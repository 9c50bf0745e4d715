/// A message kept for the history API (`agora-rtm-rest.md` §7).
package struct HistoryRecord: Sendable, Equatable {
    package enum Kind: String, Sendable {
        case peerMessage = "peer_message"
        case channelMessage = "channel_message"
    }

    package var appID: AppID
    /// The sending user.
    package var source: String
    /// The receiving user (peer) or channel.
    package var destination: String
    package var kind: Kind
    package var payload: String
    /// Server receipt time, ms since the epoch.
    package var timestamp: Int64

    package init(appID: AppID, source: String, destination: String, kind: Kind, payload: String, timestamp: Int64) {
        self.appID = appID
        self.source = source
        self.destination = destination
        self.kind = kind
        self.payload = payload
        self.timestamp = timestamp
    }
}

/// Which history records a query or count matches: `source` is the sender, `destination` the
/// receiving user or channel (matched exactly); at least one of them is given. Times are inclusive.
/// With `participant`, only records of that user's own traffic match as well: those it sent, and the
/// peer messages sent to it (a channel named like the user does not count).
package struct HistoryFilter: Sendable, Equatable, Codable {
    package var source: String?
    package var destination: String?
    package var start: Int64
    package var end: Int64
    /// The user whose own messages alone may match (a token holder's view, ``RESTTokenScope/user``);
    /// `nil` for the whole app.
    package var participant: String?

    package init(source: String?, destination: String?, start: Int64, end: Int64, participant: String? = nil) {
        self.source = source
        self.destination = destination
        self.start = start
        self.end = end
        self.participant = participant
    }

    /// Whether `record` matches.
    package func matches(_ record: HistoryRecord) -> Bool {
        (source == nil || record.source == source) && (destination == nil || record.destination == destination)
            && record.timestamp >= start && record.timestamp <= end
            && (participant == nil || record.source == participant
                || (record.destination == participant && record.kind == .peerMessage))
    }
}

/// Message history.
package protocol HistoryStore: Sendable {
    func append(_ record: HistoryRecord) async throws
    /// Matching records of `app`, by time (`ascending` or not), then skipping `offset`, at most `limit`.
    func query(_ filter: HistoryFilter, in app: AppID, ascending: Bool, offset: Int, limit: Int) async throws -> [HistoryRecord]
    func count(_ filter: HistoryFilter, in app: AppID) async throws -> Int
    /// Removes `app`'s records older than `cutoff`; returns how many.
    @discardableResult
    func deleteRecords(of app: AppID, before cutoff: Int64) async throws -> Int
}

/// A ``HistoryStore`` in memory.
package actor InMemoryHistoryStore: HistoryStore {
    private var records: [AppID: [HistoryRecord]] = [:]

    package init() {}

    package func append(_ record: HistoryRecord) { records[record.appID, default: []].append(record) }

    package func query(_ filter: HistoryFilter, in app: AppID, ascending: Bool, offset: Int, limit: Int) -> [HistoryRecord] {
        let matching = (records[app] ?? []).enumerated().filter { filter.matches($0.element) }
            .sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
        return Array((ascending ? matching : matching.reversed()).dropFirst(offset).prefix(limit))
    }

    package func count(_ filter: HistoryFilter, in app: AppID) -> Int {
        (records[app] ?? []).filter { filter.matches($0) }.count
    }

    package func deleteRecords(of app: AppID, before cutoff: Int64) -> Int {
        let before = records[app]?.count ?? 0
        records[app]?.removeAll { $0.timestamp < cutoff }
        return before - (records[app]?.count ?? 0)
    }
}
