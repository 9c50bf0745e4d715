/// A peer message kept for a receiver who was offline (`client-protocol.md` §3).
package struct StoredPeerMessage: Sendable, Equatable {
    package var messageID: String
    package var appID: AppID
    package var from: UserID
    package var to: UserID
    package var content: MessageContent
    /// When the server received it (ms since the epoch).
    package var serverTimestamp: Int64

    package init(messageID: String, appID: AppID, from: UserID, to: UserID, content: MessageContent, serverTimestamp: Int64) {
        self.messageID = messageID
        self.appID = appID
        self.from = from
        self.to = to
        self.content = content
        self.serverTimestamp = serverTimestamp
    }
}

/// Store-and-forward of peer messages for offline receivers.
package protocol OfflineMessageStore: Sendable {
    /// Stores `message`; if the receiver then holds more than `limit`, its oldest are removed.
    func store(_ message: StoredPeerMessage, limit: Int) async throws
    /// The receiver's messages received at or after `notBefore`, oldest first (send order).
    func pending(for receiver: UserID, in app: AppID, notBefore: Int64) async throws -> [StoredPeerMessage]
    /// Removes one message once the receiver acknowledged it.
    func delete(messageID: String, for receiver: UserID, in app: AppID) async throws
    /// Removes every message received before `cutoff`; returns how many.
    @discardableResult
    func deleteReceived(before cutoff: Int64) async throws -> Int
}

/// An ``OfflineMessageStore`` in memory (tests and configuration-only deployments; not durable).
package actor InMemoryOfflineMessageStore: OfflineMessageStore {
    private var messages: [SessionKey: [StoredPeerMessage]] = [:]

    package init() {}

    package func store(_ message: StoredPeerMessage, limit: Int) {
        let key = SessionKey(appID: message.appID, userID: message.to)
        var list = messages[key] ?? []
        list.append(message)
        if list.count > limit { list.removeFirst(list.count - limit) }
        messages[key] = list
    }

    package func pending(for receiver: UserID, in app: AppID, notBefore: Int64) -> [StoredPeerMessage] {
        (messages[SessionKey(appID: app, userID: receiver)] ?? []).filter { $0.serverTimestamp >= notBefore }
    }

    package func delete(messageID: String, for receiver: UserID, in app: AppID) {
        messages[SessionKey(appID: app, userID: receiver)]?.removeAll { $0.messageID == messageID }
    }

    package func deleteReceived(before cutoff: Int64) -> Int {
        var removed = 0
        for key in messages.keys {
            let before = messages[key]!.count
            messages[key]!.removeAll { $0.serverTimestamp < cutoff }
            removed += before - messages[key]!.count
            if messages[key]!.isEmpty { messages.removeValue(forKey: key) }
        }
        return removed
    }
}
