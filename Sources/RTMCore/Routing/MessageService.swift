import Logging
import Synchronization

/// The stored half of messaging: offline store-and-forward and history around the ``Broker``.
///
/// Both edges (REST and the gateway) send through it. A message is recorded in history, when asked,
/// before it is sent (a failed write means nothing was delivered);
/// a peer message asked to be kept offline is stored when its receiver is offline, delivered with
/// `offline: true` at the receiver's next login in send order, and deleted only once acknowledged.
package final class MessageService: Sendable {
    /// Limits of offline storage and history.
    package struct Limits: Sendable {
        /// Messages kept per receiver; the newest evicts the oldest.
        package var offlineMessagesPerReceiver = 200
        /// How long an offline message is kept.
        package var offlineRetention: Duration = .seconds(7 * 24 * 3600)
        /// History kept for apps that do not set their own retention.
        package var defaultHistoryRetentionDays = 7

        package init() {}
    }

    /// What happened to a peer message.
    package enum PeerOutcome: Sendable, Equatable {
        case handedOff(messageID: String, serverTimestamp: Int64)
        case offline(messageID: String, serverTimestamp: Int64)
        /// The receiver was offline and the message was stored for its next login.
        case cached(messageID: String, serverTimestamp: Int64)
        case failed(messageID: String, serverTimestamp: Int64)
    }

    /// How messages reach sessions (the node's only way to them).
    package let broker: any Broker
    package let stores: StoreBundle
    package let limits: Limits
    let logger: Logger
    /// Offline messages handed to a session and not yet acknowledged: message id → receiver.
    private let awaitingAck = Mutex<[String: SessionKey]>([:])

    package init(broker: any Broker, stores: StoreBundle, limits: Limits = Limits(), logger: Logger = Logger(label: "rtm.messages")) {
        self.broker = broker
        self.stores = stores
        self.limits = limits
        self.logger = logger
        broker.whenMessagesStoredElsewhere { [weak self] session in await self?.deliverStoredMessages(to: session) }
    }

    /// Sends a peer message. With `history`, it is recorded first, then sent: a history write that
    /// fails throws before anything is delivered or an acknowledgement slot is opened, so the sender
    /// is told of a failure only for a message nobody received (and may send it again), and is never
    /// told of a failure after delivery. History records what was sent, delivered or not (an offline
    /// receiver's messages are recorded too). With `offline` and the receiver offline, it is stored
    /// (`.cached`); if the receiver logged in meanwhile it is delivered at once.
    package func sendPeer(_ message: PeerMessage, wantAck: Bool, offline: Bool, history: Bool) async throws -> PeerOutcome {
        guard offline || history else { return sendPeerFromMemory(message, wantAck: wantAck) }
        let timestamp = broker.clock.nowMilliseconds()
        if history, case .text(let text) = message.content {
            try await stores.history.append(HistoryRecord(appID: message.appID, source: message.from.rawValue,
                                                          destination: message.to.rawValue, kind: .peerMessage, payload: text,
                                                          timestamp: timestamp))
        }
        switch broker.sendPeer(message, wantAck: wantAck, offline: offline, serverTimestamp: timestamp) {
        case .handedOff(let id, let timestamp): return .handedOff(messageID: id, serverTimestamp: timestamp)
        case .failed(let id, let timestamp): return .failed(messageID: id, serverTimestamp: timestamp)
        case .offline(let id, let timestamp):
            // No acknowledgement slot is open for an offline receiver, so a failing store leaves none behind.
            guard offline else { return .offline(messageID: id, serverTimestamp: timestamp) }
            try await stores.offline.store(StoredPeerMessage(messageID: id, appID: message.appID, from: message.from, to: message.to,
                                                             content: message.content, serverTimestamp: timestamp),
                                           limit: limits.offlineMessagesPerReceiver)
            await deliverJustStored(for: message.to, in: message.appID)
            return .cached(messageID: id, serverTimestamp: timestamp)
        }
    }

    /// Sends a peer message that needs nothing stored (no history, no offline storage) at once,
    /// without suspending: the REST fast path answers from it on the event loop, and
    /// ``sendPeer(_:wantAck:offline:history:)`` goes through it when it stores nothing.
    package func sendPeerFromMemory(_ message: PeerMessage, wantAck: Bool = false) -> PeerOutcome {
        switch broker.sendPeer(message, wantAck: wantAck, offline: false, serverTimestamp: broker.clock.nowMilliseconds()) {
        case .handedOff(let id, let timestamp): .handedOff(messageID: id, serverTimestamp: timestamp)
        case .failed(let id, let timestamp): .failed(messageID: id, serverTimestamp: timestamp)
        case .offline(let id, let timestamp): .offline(messageID: id, serverTimestamp: timestamp)
        }
    }

    /// Sends a channel message; with `history`, it is recorded first, then sent (as ``sendPeer(_:wantAck:offline:history:)``).
    package func sendChannel(app: AppID, channel: ChannelName, from: UserID, content: MessageContent, history: Bool) async throws
        -> (messageID: String, serverTimestamp: Int64, receivers: Int)
    {
        guard history else { return sendChannelFromMemory(app: app, channel: channel, from: from, content: content) }
        let timestamp = broker.clock.nowMilliseconds()
        if history, case .text(let text) = content {
            try await stores.history.append(HistoryRecord(appID: app, source: from.rawValue, destination: channel.rawValue,
                                                          kind: .channelMessage, payload: text, timestamp: timestamp))
        }
        return broker.sendChannel(app: app, channel: channel, from: from, content: content, serverTimestamp: timestamp)
    }

    /// Sends a channel message without history at once, without suspending (see ``sendPeerFromMemory(_:wantAck:)``).
    package func sendChannelFromMemory(app: AppID, channel: ChannelName, from: UserID, content: MessageContent)
        -> (messageID: String, serverTimestamp: Int64, receivers: Int)
    {
        broker.sendChannel(app: app, channel: channel, from: from, content: content, serverTimestamp: broker.clock.nowMilliseconds())
    }

    /// Queues the session's stored messages (oldest first, marked `offline`), skipping any already
    /// handed to it and not yet acknowledged.
    package func deliverStoredMessages(to session: RouterSession) async {
        let notBefore = broker.clock.nowMilliseconds() - limits.offlineRetention.milliseconds
        let pending: [StoredPeerMessage]
        do {
            pending = try await stores.offline.pending(for: session.userID, in: session.appID, notBefore: notBefore)
        } catch {
            logger.error("reading offline messages failed: \(error)")
            return
        }
        let fresh = awaitingAck.withLock { awaiting in
            pending.filter { message in
                guard awaiting[message.messageID] == nil else { return false }
                awaiting[message.messageID] = SessionKey(appID: session.appID, userID: session.userID)
                return true
            }
        }
        for message in fresh where !broker.deliverStored(message, to: session) {
            _ = awaitingAck.withLock { $0.removeValue(forKey: message.messageID) }
        }
    }

    /// The receiver acknowledged `messageID`: if it was a stored message, it is deleted (in the
    /// background; nothing happens for ordinary messages, so this is cheap on every ack).
    package func acknowledged(_ messageID: String, by session: RouterSession) {
        let key = awaitingAck.withLock { awaiting -> SessionKey? in
            guard let key = awaiting[messageID], key == SessionKey(appID: session.appID, userID: session.userID) else { return nil }
            awaiting.removeValue(forKey: messageID)
            return key
        }
        guard let key else { return }
        Task { [stores, logger] in
            do {
                try await stores.offline.delete(messageID: messageID, for: key.userID, in: key.appID)
            } catch {
                logger.error("deleting an acknowledged offline message failed: \(error)")
            }
        }
    }

    /// Stores messages a session had to give up before they were acknowledged (their senders asked
    /// for offline messaging): the receiver gets them at its next login, in send order, or at once if
    /// it has a session already (the login that ended the one giving them up). In the background;
    /// returns at once.
    package func storeUnacknowledged(_ messages: [StoredPeerMessage]) {
        guard !messages.isEmpty else { return }
        Task { [stores, limits, logger, broker] in
            for message in messages {
                do {
                    try await stores.offline.store(message, limit: limits.offlineMessagesPerReceiver)
                } catch {
                    logger.error("storing an unacknowledged message offline failed: \(error)")
                }
            }
            var receivers = Set<SessionKey>()
            for message in messages where receivers.insert(SessionKey(appID: message.appID, userID: message.to)).inserted {
                await self.deliverJustStored(for: message.to, in: message.appID)
            }
        }
    }

    /// Messages for `user` were just stored: if it logged in meanwhile (here, or on another node of a
    /// cluster, which the broker tells), its session gets them now rather than at its next login.
    private func deliverJustStored(for user: UserID, in app: AppID) async {
        if let session = broker.currentSession(of: user, in: app) {
            await deliverStoredMessages(to: session)
        } else {
            broker.messagesStored(for: user, in: app)
        }
    }

    /// Forgets unacknowledged deliveries of a session that ended; they stay stored for the next login.
    package func sessionEnded(_ session: RouterSession) {
        let key = SessionKey(appID: session.appID, userID: session.userID)
        awaitingAck.withLock { awaiting in awaiting = awaiting.filter { $0.value != key } }
    }
}
