/// Who is logged in on this node, and the acknowledgement slots of the peer messages sent to them:
/// the sessions-and-acks concern of the ``Router``, as a value (the router keeps it behind its own
/// lock, the first in its lock order).
struct SessionTable {
    struct PendingAck {
        var receiver: SessionKey
        var acked = false
        var waiter: CheckedContinuation<Bool, Never>?
    }

    private(set) var sessions: [SessionKey: RouterSession] = [:]
    private(set) var pendingAcks: [String: PendingAck] = [:]

    func current(_ key: SessionKey) -> RouterSession? { sessions[key] }

    func isCurrent(_ session: RouterSession) -> Bool { sessions[session.key] === session }

    /// Makes `session` its user's current one; the session it replaces, if any.
    mutating func insert(_ session: RouterSession) -> RouterSession? {
        sessions.updateValue(session, forKey: session.key)
    }

    /// Removes `session` if it is its user's current one; whether it was.
    mutating func remove(_ session: RouterSession) -> Bool {
        guard isCurrent(session) else { return false }
        sessions.removeValue(forKey: session.key)
        return true
    }

    // MARK: Acknowledgement slots

    /// Opens the slot `messageID` for a message to `receiver`.
    mutating func openAck(_ messageID: String, receiver: SessionKey) {
        pendingAcks[messageID] = PendingAck(receiver: receiver)
    }

    /// Removes the slot; its waiter, if one waits.
    mutating func closeAck(_ messageID: String) -> CheckedContinuation<Bool, Never>? {
        pendingAcks.removeValue(forKey: messageID)?.waiter
    }

    /// Makes `waiter` wait on the slot. Returns the answer at once instead (the slot closed) when the
    /// message was acknowledged already (`true`) or no slot is open (`false`); `nil` when it waits.
    mutating func wait(_ messageID: String, _ waiter: CheckedContinuation<Bool, Never>) -> Bool? {
        guard var pending = pendingAcks[messageID] else { return false }
        if pending.acked {
            pendingAcks.removeValue(forKey: messageID)
            return true
        }
        pending.waiter = waiter
        pendingAcks[messageID] = pending
        return nil
    }

    /// Whether `session` is the current session the message `messageID` waits an ack from.
    func isAwaitingAck(_ messageID: String, from session: RouterSession) -> Bool {
        pendingAcks[messageID]?.receiver == session.key && isCurrent(session)
    }

    /// Settles the slot: a waiter is handed back (the slot closes) to be resumed with `acked`; with
    /// no waiter yet, an ack is kept for the wait to come, a timeout changes nothing.
    mutating func resolve(_ messageID: String, acked: Bool) -> CheckedContinuation<Bool, Never>? {
        guard var pending = pendingAcks[messageID] else { return nil }
        if let waiter = pending.waiter {
            pendingAcks.removeValue(forKey: messageID)
            return waiter
        }
        if acked {
            pending.acked = true
            pendingAcks[messageID] = pending
        }
        return nil
    }
}
