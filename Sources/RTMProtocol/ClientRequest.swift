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
    /// An op this server knows by name but does not implement yet (presence, attributes, invitations).
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
        case .notYetSupported(let op): op
        }
    }

    /// Ops of the contract that later releases implement; the server answers them with a failure code.
    public static let laterOps: Set<String> = [
        "query_peers_online_status", "subscribe_peers_online_status", "unsubscribe_peers_online_status",
        "set_local_user_attributes", "add_or_update_local_user_attributes", "delete_local_user_attributes_by_keys",
        "clear_local_user_attributes", "get_user_attributes", "set_channel_attributes",
        "add_or_update_channel_attributes", "delete_channel_attributes_by_keys", "clear_channel_attributes",
        "get_channel_attributes", "send_invitation", "cancel_invitation", "accept_invitation", "refuse_invitation",
    ]

    /// Every op name the server recognises.
    public static let knownOps: Set<String> = laterOps.union([
        "login", "logout", "renew_token", "resume", "send_peer", "ack", "join", "leave", "send_channel",
        "get_members", "get_channel_member_count",
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
        case .logout, .notYetSupported:
            break
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
