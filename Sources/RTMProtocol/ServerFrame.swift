/// An event from server to client (`client-protocol.md` §2–§4).
public enum ServerEvent: Sendable, Equatable {
    case peerMessage(messageID: String, from: String, payload: MessagePayload, serverTimestamp: Int64, offline: Bool)
    case channelMessage(channel: String, from: String, messageID: String, payload: MessagePayload, serverTimestamp: Int64)
    case memberJoined(channel: String, userID: String)
    case memberLeft(channel: String, userID: String)
    case memberCount(channel: String, count: Int)
    case connectionState(state: Int, reason: Int)
    case tokenPrivilegeWillExpire
    case protocolError(reason: String)
    /// Presence of watched peers: 0 ONLINE, 1 UNREACHABLE, 2 OFFLINE (order kept on the wire).
    case peersOnlineStatus(statuses: [PeerStatus])
    /// The complete attribute set of a channel after a write with `notify`.
    case channelAttributesUpdated(channel: String, attributes: [ChannelAttributeValue])

    /// Encodes the event as a complete object, with `seq` when given.
    public func encode(seq: Int64?) -> [UInt8] {
        var writer = JSONWriter()
        if let seq { writer.field("seq", seq) }
        write(to: &writer)
        return writer.finish()
    }

    /// Encodes the event's members and closing brace without the opening `{`, so a session can
    /// prefix `{"seq":N,` (see `EventEncoder` in RTMCore).
    public func encodeBody() -> [UInt8] {
        Array(encode(seq: nil).dropFirst())
    }

    private func write(to writer: inout JSONWriter) {
        switch self {
        case .peerMessage(let messageID, let from, let payload, let serverTimestamp, let offline):
            writer.field("event", "peer_message")
            writer.field("message_id", messageID)
            writer.field("from", from)
            payload.write(to: &writer)
            writer.field("server_ts", serverTimestamp)
            writer.field("offline", offline)
        case .channelMessage(let channel, let from, let messageID, let payload, let serverTimestamp):
            writer.field("event", "channel_message")
            writer.field("channel", channel)
            writer.field("from", from)
            writer.field("message_id", messageID)
            payload.write(to: &writer)
            writer.field("server_ts", serverTimestamp)
        case .memberJoined(let channel, let userID):
            writer.field("event", "member_joined")
            writer.field("channel", channel)
            writer.field("user_id", userID)
        case .memberLeft(let channel, let userID):
            writer.field("event", "member_left")
            writer.field("channel", channel)
            writer.field("user_id", userID)
        case .memberCount(let channel, let count):
            writer.field("event", "member_count")
            writer.field("channel", channel)
            writer.field("count", count)
        case .connectionState(let state, let reason):
            writer.field("event", "connection_state")
            writer.field("state", state)
            writer.field("reason", reason)
        case .tokenPrivilegeWillExpire:
            writer.field("event", "token_privilege_will_expire")
        case .protocolError(let reason):
            writer.field("event", "protocol_error")
            writer.field("reason", reason)
        case .peersOnlineStatus(let statuses):
            writer.field("event", "peers_online_status")
            writer.field("statuses", counts: statuses.map { ($0.userID, $0.state) })
        case .channelAttributesUpdated(let channel, let attributes):
            writer.field("event", "channel_attributes_updated")
            writer.field("channel", channel)
            ChannelAttributeValue.write(attributes, to: &writer)
        }
    }
}

/// One user's presence in a `peers_online_status` event or a query reply.
public struct PeerStatus: Sendable, Equatable {
    public var userID: String
    /// `PEER_ONLINE_STATE`: 0 ONLINE, 1 UNREACHABLE, 2 OFFLINE.
    public var state: Int

    public init(userID: String, state: Int) {
        self.userID = userID
        self.state = state
    }
}

/// A frame from the server as a client reads it.
public enum ServerFrame: Sendable, Equatable {
    case reply(id: Int64, code: Int, fields: [String: JSONValue])
    case event(seq: Int64?, ServerEvent)
    /// An event this client version does not know (the server may add events).
    case unknownEvent(name: String, fields: [String: JSONValue])

    /// The largest frame a client accepts from the server: 1 MiB. A server frame can be larger than the
    /// 64 KiB a client may send: the envelope around a payload, JSON escapes (U+0001 is written as the
    /// six bytes `\u0001`, so 32 KB of control characters take 192 KiB) and whole attribute sets
    /// (32 KB of channel attributes) make it grow. The SDK and the benchmark's subscribers read up to this.
    public static let maximumBytes = 1 << 20

    /// Reads one server frame; `nil` if it is not a reply or event object.
    public static func parse(_ bytes: some Sequence<UInt8>) -> ServerFrame? {
        guard let object = JSONValue.parse(bytes)?.objectValue else { return nil }
        if let id = object["reply"]?.intValue {
            return .reply(id: id, code: Int(object["code"]?.intValue ?? 1), fields: object)
        }
        guard let name = object["event"]?.stringValue else { return nil }
        let seq = object["seq"]?.intValue
        func text(_ key: String) -> String { object[key]?.stringValue ?? "" }
        func int(_ key: String) -> Int64 { object[key]?.intValue ?? 0 }
        let payload = (MessagePayload.read(from: object) ?? nil) ?? .text("")
        switch name {
        case "peer_message":
            return .event(seq: seq, .peerMessage(messageID: text("message_id"), from: text("from"), payload: payload,
                                                 serverTimestamp: int("server_ts"), offline: object["offline"]?.boolValue ?? false))
        case "channel_message":
            return .event(seq: seq, .channelMessage(channel: text("channel"), from: text("from"), messageID: text("message_id"),
                                                    payload: payload, serverTimestamp: int("server_ts")))
        case "member_joined": return .event(seq: seq, .memberJoined(channel: text("channel"), userID: text("user_id")))
        case "member_left": return .event(seq: seq, .memberLeft(channel: text("channel"), userID: text("user_id")))
        case "member_count": return .event(seq: seq, .memberCount(channel: text("channel"), count: Int(int("count"))))
        case "connection_state":
            return .event(seq: seq, .connectionState(state: Int(int("state")), reason: Int(int("reason"))))
        case "token_privilege_will_expire": return .event(seq: seq, .tokenPrivilegeWillExpire)
        case "protocol_error": return .event(seq: seq, .protocolError(reason: text("reason")))
        case "peers_online_status":
            let statuses = (object["statuses"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
                .map { PeerStatus(userID: $0.key, state: Int($0.value.intValue ?? 2)) }
            return .event(seq: seq, .peersOnlineStatus(statuses: statuses))
        case "channel_attributes_updated":
            return .event(seq: seq, .channelAttributesUpdated(channel: text("channel"),
                                                              attributes: ChannelAttributeValue.read(object["attributes"])))
        default: return .unknownEvent(name: name, fields: object)
        }
    }
}

/// Builds a reply frame: `{"reply":id,"code":code,...}`.
public struct ReplyBuilder {
    private var writer = JSONWriter()

    public init(id: Int64, code: Int) {
        writer.field("reply", id)
        writer.field("code", code)
    }

    public mutating func field(_ name: String, _ value: String) { writer.field(name, value) }
    public mutating func field(_ name: String, _ value: Int64) { writer.field(name, value) }
    public mutating func field(_ name: String, strings: [String]) { writer.field(name, strings: strings) }
    public mutating func field(_ name: String, counts: [(String, Int)]) { writer.field(name, counts: counts) }
    public mutating func nullField(_ name: String) { writer.nullField(name) }
    public mutating func field<Element>(_ name: String, objects: [Element], _ write: (inout JSONWriter, Element) -> Void) {
        writer.field(name, objects: objects, write)
    }
    public mutating func channelAttributes(_ values: [ChannelAttributeValue]) {
        ChannelAttributeValue.write(values, to: &writer)
    }

    public mutating func finish() -> [UInt8] { writer.finish() }
}
