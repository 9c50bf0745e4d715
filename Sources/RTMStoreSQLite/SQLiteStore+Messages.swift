import Foundation
import GRDB
import RTMCore

extension SQLiteStore: OfflineMessageStore {
    package func store(_ message: StoredPeerMessage, limit: Int) async throws {
        let (kind, body, description) = Self.columns(message.content)
        try await pool.write { db in
            try db.cachedStatement(sql: """
                INSERT INTO offline_message (app_id, receiver, message_id, sender, kind, body, description, server_ts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [message.appID.rawValue, message.to.rawValue, message.messageID, message.from.rawValue,
                                         kind, body, description, message.serverTimestamp])
            // Everything at or below the (limit+1)-th newest seq goes (a range delete, like the event log's trim).
            try db.cachedStatement(sql: """
                DELETE FROM offline_message WHERE app_id = ? AND receiver = ? AND seq <= (
                    SELECT seq FROM offline_message WHERE app_id = ? AND receiver = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)
                """).execute(arguments: [message.appID.rawValue, message.to.rawValue, message.appID.rawValue, message.to.rawValue, limit])
        }
    }

    package func pending(for receiver: UserID, in app: AppID, notBefore: Int64) async throws -> [StoredPeerMessage] {
        try await pool.read { db in
            // Cached statements: every login runs this one (SQLite no longer parses it each time).
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT * FROM offline_message WHERE app_id = ? AND receiver = ? AND server_ts >= ? ORDER BY seq
                """), arguments: [app.rawValue, receiver.rawValue, notBefore]).compactMap(Self.storedMessage)
        }
    }

    package func delete(messageID: String, for receiver: UserID, in app: AppID) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "DELETE FROM offline_message WHERE app_id = ? AND receiver = ? AND message_id = ?")
                .execute(arguments: [app.rawValue, receiver.rawValue, messageID])
        }
    }

    package func deleteReceived(before cutoff: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM offline_message WHERE server_ts < ?", arguments: [cutoff])
            return db.changesCount
        }
    }

    static func columns(_ content: MessageContent) -> (Int, Data, Data?) {
        switch content {
        case .text(let text): (0, StoredText.value(text), nil)
        case .raw(let base64, let description): (1, StoredText.value(base64), description.map(StoredText.value))
        }
    }

    static func storedMessage(_ row: Row) -> StoredPeerMessage? {
        guard let app = AppID(row["app_id"]), let from = UserID(row["sender"]), let to = UserID(row["receiver"]) else { return nil }
        let kind: Int = row["kind"]
        let body = StoredText.text(row, "body") ?? ""
        let content: MessageContent = kind == 1 ? .raw(base64: body, description: StoredText.text(row, "description")) : .text(body)
        return StoredPeerMessage(messageID: row["message_id"], appID: app, from: from, to: to, content: content,
                                 serverTimestamp: row["server_ts"])
    }
}

extension SQLiteStore: HistoryStore {
    package func append(_ record: HistoryRecord) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: """
                INSERT INTO history_message (app_id, source, destination, message_type, payload, ts) VALUES (?, ?, ?, ?, ?, ?)
                """).execute(arguments: [record.appID.rawValue, record.source, record.destination, record.kind.rawValue,
                                 StoredText.value(record.payload), record.timestamp])
        }
    }

    package func query(_ filter: HistoryFilter, in app: AppID, ascending: Bool, offset: Int, limit: Int) async throws -> [HistoryRecord] {
        let (conditions, arguments) = Self.whereClause(filter, app: app)
        let order = ascending ? "ts ASC, seq ASC" : "ts DESC, seq DESC"
        return try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM history_message WHERE \(conditions) ORDER BY \(order) LIMIT ? OFFSET ?",
                             arguments: arguments + [limit, offset]).compactMap { row in
                guard let kind = HistoryRecord.Kind(rawValue: row["message_type"]) else { return nil }
                return HistoryRecord(appID: app, source: row["source"], destination: row["destination"], kind: kind,
                                     payload: StoredText.text(row, "payload") ?? "", timestamp: row["ts"])
            }
        }
    }

    package func count(_ filter: HistoryFilter, in app: AppID) async throws -> Int {
        let (conditions, arguments) = Self.whereClause(filter, app: app)
        return try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM history_message WHERE \(conditions)", arguments: arguments) ?? 0
        }
    }

    package func deleteRecords(of app: AppID, before cutoff: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM history_message WHERE app_id = ? AND ts < ?", arguments: [app.rawValue, cutoff])
            return db.changesCount
        }
    }

    /// The WHERE clause (fixed text) and its bound arguments.
    static func whereClause(_ filter: HistoryFilter, app: AppID) -> (String, StatementArguments) {
        var conditions = ["app_id = ?", "ts >= ?", "ts <= ?"]
        var arguments: StatementArguments = [app.rawValue, filter.start, filter.end]
        if let source = filter.source {
            conditions.append("source = ?")
            arguments += [source]
        }
        if let destination = filter.destination {
            conditions.append("destination = ?")
            arguments += [destination]
        }
        if let participant = filter.participant {
            conditions.append("(source = ? OR (destination = ? AND message_type = ?))")
            arguments += [participant, participant, HistoryRecord.Kind.peerMessage.rawValue]
        }
        return (conditions.joined(separator: " AND "), arguments)
    }
}

extension SQLiteStore: EventLog {
    package func append(_ events: [RTMEvent], capacity: Int) async throws {
        guard !events.isEmpty else { return }
        try await pool.write { db in
            var touched = Set<String>()
            for event in events {
                try db.cachedStatement(sql: "INSERT INTO event_log (app_id, feed, user_id, kind, channel, ts) VALUES (?, ?, ?, ?, ?, ?)")
                    .execute(arguments: [event.appID.rawValue, event.kind.feed.rawValue, event.userID, event.kind.rawValue,
                                           event.channel, event.timestamp])
                touched.insert(event.appID.rawValue + "\u{0}" + event.kind.feed.rawValue)
            }
            for key in touched {
                let parts = key.split(separator: "\u{0}").map(String.init)
                // Everything at or below the (capacity+1)-th newest seq goes: a walk down the feed's index and
                // a range delete (`NOT IN (… LIMIT capacity)` compared every row of the feed with the kept set).
                try db.cachedStatement(sql: """
                    DELETE FROM event_log WHERE app_id = ? AND feed = ? AND seq <= (
                        SELECT seq FROM event_log WHERE app_id = ? AND feed = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)
                    """).execute(arguments: [parts[0], parts[1], parts[0], parts[1], capacity])
            }
        }
    }

    package func drain(_ feed: RTMEvent.Feed, of app: AppID, limit: Int) async throws -> [RTMEvent] {
        try await pool.write { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM event_log WHERE app_id = ? AND feed = ? ORDER BY seq LIMIT ?",
                                        arguments: [app.rawValue, feed.rawValue, limit])
            if let last = rows.last {
                let lastSeq: Int64 = last["seq"]
                try db.execute(sql: "DELETE FROM event_log WHERE app_id = ? AND feed = ? AND seq <= ?",
                               arguments: [app.rawValue, feed.rawValue, lastSeq])
            }
            return rows.compactMap { row in
                guard let kind = RTMEvent.Kind(rawValue: row["kind"]) else { return nil }
                return RTMEvent(appID: app, userID: row["user_id"], kind: kind, channel: row["channel"], timestamp: row["ts"])
            }
        }
    }
}
