import PostgresNIO
import RTMCore

extension PostgresStore: OfflineMessageStore {
    package func store(_ message: StoredPeerMessage, limit: Int) async throws {
        let (kind, body, description): (Int, ByteBuffer, ByteBuffer?) = switch message.content {
        case .text(let text): (0, PostgresStoredText.value(text), nil)
        case .raw(let base64, let description): (1, PostgresStoredText.value(base64), description.map(PostgresStoredText.value))
        }
        let app = message.appID.rawValue, receiver = message.to.rawValue
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("""
                INSERT INTO offline_message (app_id, receiver, message_id, sender, kind, body, description, server_ts)
                VALUES (\(app), \(receiver), \(message.messageID), \(message.from.rawValue), \(kind), \(body), \(description),
                        \(message.serverTimestamp))
                """, logger: logger).drain()
            try await connection.query("""
                DELETE FROM offline_message WHERE app_id = \(app) AND receiver = \(receiver) AND seq <= (
                    SELECT seq FROM offline_message WHERE app_id = \(app) AND receiver = \(receiver) ORDER BY seq DESC LIMIT 1 OFFSET \(limit))
                """, logger: logger).drain()
        }
    }

    package func pending(for receiver: UserID, in app: AppID, notBefore: Int64) async throws -> [StoredPeerMessage] {
        let rows = try await client.query("""
            SELECT message_id, sender, kind, body, description, server_ts FROM offline_message
            WHERE app_id = \(app.rawValue) AND receiver = \(receiver.rawValue) AND server_ts >= \(notBefore) ORDER BY seq
            """, logger: logger)
        var messages: [StoredPeerMessage] = []
        for try await (id, sender, kind, bodyBytes, descriptionBytes, timestamp)
            in rows.decode((String, String, Int, ByteBuffer, ByteBuffer?, Int64).self) {
            guard let from = UserID(sender) else { continue }
            let body = PostgresStoredText.text(bodyBytes), description = descriptionBytes.map(PostgresStoredText.text)
            let content: MessageContent = kind == 1 ? .raw(base64: body, description: description) : .text(body)
            messages.append(StoredPeerMessage(messageID: id, appID: app, from: from, to: receiver, content: content,
                                              serverTimestamp: timestamp))
        }
        return messages
    }

    package func delete(messageID: String, for receiver: UserID, in app: AppID) async throws {
        try await client.query("""
            DELETE FROM offline_message WHERE app_id = \(app.rawValue) AND receiver = \(receiver.rawValue) AND message_id = \(messageID)
            """, logger: logger).drain()
    }

    package func deleteReceived(before cutoff: Int64) async throws -> Int {
        try await countDeleted("DELETE FROM offline_message WHERE server_ts < \(cutoff) RETURNING 1")
    }

    func countDeleted(_ query: PostgresQuery) async throws -> Int {
        var count = 0
        for try await _ in try await client.query(query, logger: logger) { count += 1 }
        return count
    }
}

extension PostgresStore: HistoryStore {
    package func append(_ record: HistoryRecord) async throws {
        try await client.query("""
            INSERT INTO history_message (app_id, source, destination, message_type, payload, ts)
            VALUES (\(record.appID.rawValue), \(record.source), \(record.destination), \(record.kind.rawValue), \(PostgresStoredText.value(record.payload)),
                    \(record.timestamp))
            """, logger: logger).drain()
    }

    package func query(_ filter: HistoryFilter, in app: AppID, ascending: Bool, offset: Int, limit: Int) async throws -> [HistoryRecord] {
        // NULL parameters switch a condition off and the direction is a parameter too, so one
        // statement text serves every query.
        let rows = try await client.query("""
            SELECT source, destination, message_type, payload, ts FROM history_message
            WHERE app_id = \(app.rawValue) AND ts >= \(filter.start) AND ts <= \(filter.end)
              AND (\(filter.source)::TEXT IS NULL OR source = \(filter.source))
              AND (\(filter.destination)::TEXT IS NULL OR destination = \(filter.destination))
              AND (\(filter.participant)::TEXT IS NULL OR source = \(filter.participant)
                   OR (destination = \(filter.participant) AND message_type = \(HistoryRecord.Kind.peerMessage.rawValue)))
            ORDER BY CASE WHEN \(ascending) THEN ts END ASC, CASE WHEN \(ascending) THEN seq END ASC,
                     ts DESC, seq DESC
            LIMIT \(limit) OFFSET \(offset)
            """, logger: logger)
        var records: [HistoryRecord] = []
        for try await (source, destination, type, payload, timestamp) in rows.decode((String, String, String, ByteBuffer, Int64).self) {
            guard let kind = HistoryRecord.Kind(rawValue: type) else { continue }
            records.append(HistoryRecord(appID: app, source: source, destination: destination, kind: kind,
                                         payload: PostgresStoredText.text(payload), timestamp: timestamp))
        }
        return records
    }

    package func count(_ filter: HistoryFilter, in app: AppID) async throws -> Int {
        let rows = try await client.query("""
            SELECT COUNT(*) FROM history_message
            WHERE app_id = \(app.rawValue) AND ts >= \(filter.start) AND ts <= \(filter.end)
              AND (\(filter.source)::TEXT IS NULL OR source = \(filter.source))
              AND (\(filter.destination)::TEXT IS NULL OR destination = \(filter.destination))
              AND (\(filter.participant)::TEXT IS NULL OR source = \(filter.participant)
                   OR (destination = \(filter.participant) AND message_type = \(HistoryRecord.Kind.peerMessage.rawValue)))
            """, logger: logger)
        var count = 0
        for try await value in rows.decode(Int64.self) { count = Int(value) }
        return count
    }

    package func deleteRecords(of app: AppID, before cutoff: Int64) async throws -> Int {
        try await countDeleted("DELETE FROM history_message WHERE app_id = \(app.rawValue) AND ts < \(cutoff) RETURNING 1")
    }
}

extension PostgresStore: EventLog {
    package func append(_ events: [RTMEvent], capacity: Int) async throws {
        guard !events.isEmpty else { return }
        // One statement for the whole batch: arrays bound as parameters and unnested.
        let apps = events.map(\.appID.rawValue), feeds = events.map(\.kind.feed.rawValue), users = events.map(\.userID)
        let kinds = events.map(\.kind.rawValue), channels = events.map { $0.channel ?? "" }, times = events.map(\.timestamp)
        let touched = Set(events.map { [$0.appID.rawValue, $0.kind.feed.rawValue] })
        try await client.query("""
            INSERT INTO event_log (app_id, feed, user_id, kind, channel, ts)
            SELECT a, f, u, k, NULLIF(c, ''), t
            FROM UNNEST(\(apps)::TEXT[], \(feeds)::TEXT[], \(users)::TEXT[], \(kinds)::TEXT[], \(channels)::TEXT[], \(times)::BIGINT[])
                AS batch(a, f, u, k, c, t)
            """, logger: logger).drain()
        // The oldest past `capacity` go, each feed in its own statement. Several writers (the nodes of
        // a cluster) trim one feed at once: each skips the rows another is deleting, so none waits on
        // another (two trims locking old rows in different orders deadlocked), and whichever comes
        // last removes what is left over.
        for feed in touched {
            try await client.query("""
                DELETE FROM event_log WHERE seq IN (
                    SELECT seq FROM event_log WHERE app_id = \(feed[0]) AND feed = \(feed[1]) AND seq <= (
                        SELECT seq FROM event_log WHERE app_id = \(feed[0]) AND feed = \(feed[1])
                        ORDER BY seq DESC LIMIT 1 OFFSET \(capacity))
                    FOR UPDATE SKIP LOCKED)
                """, logger: logger).drain()
        }
    }

    package func drain(_ feed: RTMEvent.Feed, of app: AppID, limit: Int) async throws -> [RTMEvent] {
        let rows = try await client.query("""
            DELETE FROM event_log WHERE seq IN (
                SELECT seq FROM event_log WHERE app_id = \(app.rawValue) AND feed = \(feed.rawValue)
                ORDER BY seq LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING seq, user_id, kind, channel, ts
            """, logger: logger)
        var drained: [(Int64, RTMEvent)] = []
        for try await (seq, user, kind, channel, timestamp) in rows.decode((Int64, String, String, String?, Int64).self) {
            guard let kind = RTMEvent.Kind(rawValue: kind) else { continue }
            drained.append((seq, RTMEvent(appID: app, userID: user, kind: kind, channel: channel, timestamp: timestamp)))
        }
        return drained.sorted { $0.0 < $1.0 }.map(\.1)
    }
}

/// Prepared history queries as rows, so that the `GET` of a handle may reach any node of a cluster:
/// one node's `take` deletes the row, so a handle is used once wherever it is used.
extension PostgresStore: HistoryHandleStore {
    package func keep(_ query: String, handle: String, app: AppID, expiresAt: Int64, now: Int64) async throws {
        try await client.query("DELETE FROM rtm_history_handle WHERE expires_at <= \(now)", logger: logger).drain()
        try await client.query("""
            INSERT INTO rtm_history_handle (handle, app_id, query, expires_at)
            VALUES (\(handle), \(app.rawValue), \(query), \(expiresAt))
            """, logger: logger).drain()
    }

    package func take(handle: String, app: AppID, now: Int64) async throws -> String? {
        let rows = try await client.query("""
            DELETE FROM rtm_history_handle WHERE handle = \(handle) AND app_id = \(app.rawValue) RETURNING query, expires_at
            """, logger: logger)
        var kept: String?
        for try await (query, expiresAt) in rows.decode((String, Int64).self) where expiresAt > now { kept = query }
        return kept
    }
}
