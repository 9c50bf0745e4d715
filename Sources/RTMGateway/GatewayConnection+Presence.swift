import RTMCore
import RTMProtocol

extension GatewayConnection {
    /// `query_peers_online_status`, `subscribe_…`, `unsubscribe_…` (`client-protocol.md` §5).
    func presenceOp(_ request: ClientRequest, id: Int64, session: RouterSession) {
        switch request {
        case .queryPeersOnlineStatus(let ids):
            let users = ids.compactMap(UserID.init)
            guard !ids.isEmpty, ids.count <= gateway.configuration.maximumPresenceQueryIDs, users.count == ids.count else {
                return reply(id, code: QueryPeersOnlineStatusErrorCode.invalidArgument.rawValue)
            }
            let states = broker.onlineStatus(of: users, in: session.appID)
            reply(id, code: QueryPeersOnlineStatusErrorCode.ok.rawValue) { reply in
                reply.field("statuses", counts: zip(ids, states).map { ($0, $1.rawValue) })
            }
        case .subscribePeersOnlineStatus(let ids):
            let users = ids.compactMap(UserID.init)
            guard !ids.isEmpty, users.count == ids.count else {
                return reply(id, code: PeerSubscriptionStatusErrorCode.invalidArgument.rawValue)
            }
            guard ids.count <= broker.graceLimits.maximumSubscriptions else {
                return reply(id, code: PeerSubscriptionStatusErrorCode.overflow.rawValue)
            }
            let outcome = broker.subscribe(session, to: users) {
                reply(id, code: PeerSubscriptionStatusErrorCode.ok.rawValue)
            }
            switch outcome {
            case .subscribed: break
            case .overflow: reply(id, code: PeerSubscriptionStatusErrorCode.overflow.rawValue)
            case .notLoggedIn: reply(id, code: PeerSubscriptionStatusErrorCode.userNotLoggedIn.rawValue)
            }
        case .unsubscribePeersOnlineStatus(let ids):
            let users = ids.compactMap(UserID.init)
            guard !ids.isEmpty, users.count == ids.count else {
                return reply(id, code: PeerSubscriptionStatusErrorCode.invalidArgument.rawValue)
            }
            let outcome = broker.unsubscribe(session, from: users)
            reply(id, code: outcome == .subscribed ? 0 : PeerSubscriptionStatusErrorCode.userNotLoggedIn.rawValue)
        default:
            break
        }
    }

    /// User and channel attribute writes (`client-protocol.md` §6).
    func attributeWrite(_ request: ClientRequest, id: Int64, session: RouterSession) {
        func entries(_ pairs: [AttributePair]) -> [AttributeEntry] { pairs.map { AttributeEntry(key: $0.key, value: $0.value) } }
        let outcome: RTMCore.AttributeOutcome
        switch request {
        case .setLocalUserAttributes(let pairs):
            outcome = broker.writeUserAttributes(session, .replaceAll(entries(pairs)))
        case .addOrUpdateLocalUserAttributes(let pairs):
            outcome = broker.writeUserAttributes(session, .addOrUpdate(entries(pairs)))
        case .deleteLocalUserAttributesByKeys(let keys):
            outcome = broker.writeUserAttributes(session, .deleteKeys(keys))
        case .clearLocalUserAttributes:
            outcome = broker.writeUserAttributes(session, .clear)
        case .setChannelAttributes(let name, let pairs, let notify):
            outcome = writeChannel(name, .replaceAll(entries(pairs)), notify: notify, session: session)
        case .addOrUpdateChannelAttributes(let name, let pairs, let notify):
            outcome = writeChannel(name, .addOrUpdate(entries(pairs)), notify: notify, session: session)
        case .deleteChannelAttributesByKeys(let name, let keys, let notify):
            outcome = writeChannel(name, .deleteKeys(keys), notify: notify, session: session)
        case .clearChannelAttributes(let name, let notify):
            outcome = writeChannel(name, .clear, notify: notify, session: session)
        default:
            return
        }
        reply(id, code: outcome.rawValue)
    }

    private func writeChannel(_ name: String, _ write: RTMCore.AttributeWrite, notify: Bool,
                              session: RouterSession) -> RTMCore.AttributeOutcome {
        guard let channel = ChannelName(name) else { return .invalidArgument }
        return broker.writeChannelAttributes(app: session.appID, channel: channel, by: session.userID, write, notify: notify)
    }

    /// `get_user_attributes` and `get_channel_attributes`.
    func attributeRead(_ request: ClientRequest, id: Int64, session: RouterSession) {
        switch request {
        case .getUserAttributes(let userText, let keys):
            guard let user = UserID(userText) else { return reply(id, code: AttributeOperationErrorCode.invalidArgument.rawValue) }
            guard let attributes = broker.userAttributes(of: user, in: session.appID, keys: keys) else {
                return reply(id, code: AttributeOperationErrorCode.userNotFound.rawValue)
            }
            reply(id, code: AttributeOperationErrorCode.ok.rawValue) { reply in
                reply.field("user_id", userText)
                reply.field("attributes", objects: attributes) { object, entry in
                    object.field("key", entry.key)
                    object.field("value", entry.value)
                }
            }
        case .getChannelAttributes(let name, let keys):
            guard let channel = ChannelName(name) else { return reply(id, code: AttributeOperationErrorCode.invalidArgument.rawValue) }
            let attributes = broker.channelAttributes(of: channel, in: session.appID, keys: keys)
            reply(id, code: AttributeOperationErrorCode.ok.rawValue) { reply in
                reply.field("channel", name)
                reply.channelAttributes(attributes.map(GatewayEventEncoder.value))
            }
        default:
            break
        }
    }
}
