/// A request from client to server (`client-protocol.md` §1–§4).
public enum ClientRequest: Sendable, Equatable {
    case login(appID: String, userID: String, token: String?)
    case logout
    case renewToken(token: String)
    case resume(sessionID: String, token: String?, lastEventSeq: Int64)
    case sendPeer(to: String, payload: MessagePayload, offline: Bool, history: Bool)
    /// Acknowledges a received `peer_message`; it has no `id` and gets no reply.
    case ack(messageID: String)
    case join(channel: String)
    case leave(channel: String)
    case sendChannel(channel: String, payload: MessagePayload, history: Bool)
    case getMembers(channel: String)
    case getChannelMemberCount(channels: [String])
    case queryPeersOnlineStatus(userIDs: [String])
    case subscribePeersOnlineStatus(userIDs: [String])
    case unsubscribePeersOnlineStatus(userIDs: [String])
    case setLocalUserAttributes([AttributePair])
    case addOrUpdateLocalUserAttributes([AttributePair])
    case deleteLocalUserAttributesByKeys([String])
    case clearLocalUserAttributes
    case getUserAttributes(userID: String, keys: [String]?)
    case setChannelAttributes(channel: String, attributes: [AttributePair], notify: Bool)
    case addOrUpdateChannelAttributes(channel: String, attributes: [AttributePair], notify: Bool)
    case deleteChannelAttributesByKeys(channel: String, keys: [String], notify: Bool)
    case clearChannelAttributes(channel: String, notify: Bool)
    case getChannelAttributes(channel: String, keys: [String]?)
    /// An op this server knows by name but does not implement yet (call invitations).
    case notYetSupported(op: String)

    /// The wire name of the op.
    public var op: String {
        switch self {
        case .login: "login"
        case .logout: "logout"
        case .renewToken: "renew_token"
        case .resume: "resume"
        case .sendPeer: "send_peer"
        case .ack: "ack"
        case .join: "join"
        case .leave: "leave"
        case .sendChannel: "send_channel"
        case .getMembers: "get_members"
        case .getChannelMemberCount: "get_channel_member_count"
        case .queryPeersOnlineStatus: "query_peers_online_status"
        case .subscribePeersOnlineStatus: "subscribe_peers_online_status"
        case .unsubscribePeersOnlineStatus: "unsubscribe_peers_online_status"
        case .setLocalUserAttributes: "set_local_user_attributes"
        case .addOrUpdateLocalUserAttributes: "add_or_update_local_user_attributes"
        case .deleteLocalUserAttributesByKeys: "delete_local_user_attributes_by_keys"
        case .clearLocalUserAttributes: "clear_local_user_attributes"
        case .getUserAttributes: "get_user_attributes"
        case .setChannelAttributes: "set_channel_attributes"
        case .addOrUpdateChannelAttributes: "add_or_update_channel_attributes"
        case .deleteChannelAttributesByKeys: "delete_channel_attributes_by_keys"
        case .clearChannelAttributes: "clear_channel_attributes"
        case .getChannelAttributes: "get_channel_attributes"
        case .notYetSupported(let op): op
        }
    }

    /// Ops of the contract that a later release implements; the server answers them with a failure code.
    public static let laterOps: Set<String> = ["send_invitation", "cancel_invitation", "accept_invitation", "refuse_invitation"]

    /// Every op name the server recognises.
    public static let knownOps: Set<String> = laterOps.union([
        "login", "logout", "renew_token", "resume", "send_peer", "ack", "join", "leave", "send_channel",
        "get_members", "get_channel_member_count",
        "query_peers_online_status", "subscribe_peers_online_status", "unsubscribe_peers_online_status",
        "set_local_user_attributes", "add_or_update_local_user_attributes", "delete_local_user_attributes_by_keys",
        "clear_local_user_attributes", "get_user_attributes", "set_channel_attributes",
        "add_or_update_channel_attributes", "delete_channel_attributes_by_keys", "clear_channel_attributes",
        "get_channel_attributes",
    ])

    /// Encodes the request as a text frame's bytes, with `id` unless it is an `ack`.
    public func encode(id: Int) -> [UInt8] {
        var writer = JSONWriter()
        writer.field("op", op)
        if case .ack = self {} else { writer.field("id", id) }
        switch self {
        case .login(let appID, let userID, let token):
            writer.field("app_id", appID)
            writer.field("user_id", userID)
            if let token { writer.field("token", token) }
        case .logout, .notYetSupported, .clearLocalUserAttributes:
            break
        case .queryPeersOnlineStatus(let ids), .subscribePeersOnlineStatus(let ids), .unsubscribePeersOnlineStatus(let ids):
            writer.field("user_ids", strings: ids)
        case .setLocalUserAttributes(let attributes), .addOrUpdateLocalUserAttributes(let attributes):
            AttributePair.write(attributes, to: &writer)
        case .deleteLocalUserAttributesByKeys(let keys):
            writer.field("keys", strings: keys)
        case .getUserAttributes(let userID, let keys):
            writer.field("user_id", userID)
            if let keys { writer.field("keys", strings: keys) }
        case .setChannelAttributes(let channel, let attributes, let notify),
             .addOrUpdateChannelAttributes(let channel, let attributes, let notify):
            writer.field("channel", channel)
            AttributePair.write(attributes, to: &writer)
            writer.field("notify", notify)
        case .deleteChannelAttributesByKeys(let channel, let keys, let notify):
            writer.field("channel", channel)
            writer.field("keys", strings: keys)
            writer.field("notify", notify)
        case .clearChannelAttributes(let channel, let notify):
            writer.field("channel", channel)
            writer.field("notify", notify)
        case .getChannelAttributes(let channel, let keys):
            writer.field("channel", channel)
            if let keys { writer.field("keys", strings: keys) }
        case .renewToken(let token):
            writer.field("token", token)
        case .resume(let sessionID, let token, let lastEventSeq):
            writer.field("session_id", sessionID)
            if let token { writer.field("token", token) }
            writer.field("last_event_seq", lastEventSeq)
        case .sendPeer(let to, let payload, let offline, let history):
            writer.field("to", to)
            payload.write(to: &writer)
            writer.field("offline", offline)
            writer.field("history", history)
        case .ack(let messageID):
            writer.field("message_id", messageID)
        case .join(let channel), .leave(let channel), .getMembers(let channel):
            writer.field("channel", channel)
        case .sendChannel(let channel, let payload, let history):
            writer.field("channel", channel)
            payload.write(to: &writer)
            writer.field("history", history)
        case .getChannelMemberCount(let channels):
            writer.field("channels", strings: channels)
        }
        return writer.finish()
    }
}

/// A key/value attribute as the client sends it.
public struct AttributePair: Sendable, Equatable, Hashable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    static func write(_ attributes: [AttributePair], to writer: inout JSONWriter) {
        writer.field("attributes", objects: attributes) { object, pair in
            object.field("key", pair.key)
            object.field("value", pair.value)
        }
    }
}

/// A channel attribute as the server reports it.
public struct ChannelAttributeValue: Sendable, Equatable {
    public var key: String
    public var value: String
    public var lastUpdateUserID: String
    /// Milliseconds since the epoch.
    public var lastUpdateTimestamp: Int64

    public init(key: String, value: String, lastUpdateUserID: String, lastUpdateTimestamp: Int64) {
        self.key = key
        self.value = value
        self.lastUpdateUserID = lastUpdateUserID
        self.lastUpdateTimestamp = lastUpdateTimestamp
    }

    /// Writes `{"key","value","last_update_user_id","last_update_ts"}` objects under `name`.
    public static func write(_ values: [ChannelAttributeValue], named name: String = "attributes", to writer: inout JSONWriter) {
        writer.field(name, objects: values) { object, attribute in
            object.field("key", attribute.key)
            object.field("value", attribute.value)
            object.field("last_update_user_id", attribute.lastUpdateUserID)
            object.field("last_update_ts", attribute.lastUpdateTimestamp)
        }
    }

    /// Reads such objects; entries with missing fields are skipped.
    public static func read(_ value: JSONValue?) -> [ChannelAttributeValue] {
        (value?.arrayValue ?? []).compactMap { element in
            guard let object = element.objectValue, let key = object["key"]?.stringValue,
                  let value = object["value"]?.stringValue else { return nil }
            return ChannelAttributeValue(key: key, value: value, lastUpdateUserID: object["last_update_user_id"]?.stringValue ?? "",
                                         lastUpdateTimestamp: object["last_update_ts"]?.intValue ?? 0)
        }
    }
}
