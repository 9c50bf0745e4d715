/// The outcome of reading one client frame.
public enum ParsedFrame: Sendable, Equatable {
    /// A well-formed request; `id` is `nil` only for `ack`.
    case request(id: Int64?, ClientRequest)
    /// A frame that could not be read as a request. When `op` is known and `id` readable the server
    /// replies with the op's invalid-argument code (`field` names the bad field, if one was);
    /// otherwise it sends a `protocol_error` event.
    case invalid(op: String?, id: Int64?, field: String?, reason: String)
}

/// Reads client frames (`client-protocol.md` §1): checks the op, the id and each field's type.
public enum RequestParser {
    public static func parse(_ bytes: some Sequence<UInt8>) -> ParsedFrame {
        let object: [String: JSONValue]
        switch JSONValue.parseReportingRefusal(bytes) {
        case .success(.object(let members)): object = members
        case .failure(.repeatedKey):
            // Neither value is taken (which one a reader keeps differs): the frame is malformed.
            return .invalid(op: nil, id: nil, field: nil, reason: "frame repeats a key")
        case .success, .failure(.malformed):
            return .invalid(op: nil, id: nil, field: nil, reason: "frame is not a JSON object")
        }
        guard let op = object["op"]?.stringValue else { return .invalid(op: nil, id: nil, field: nil, reason: "missing op") }
        guard ClientRequest.knownOps.contains(op) else { return .invalid(op: nil, id: nil, field: nil, reason: "unknown op") }
        if op == "ack" {
            guard let messageID = object["message_id"]?.stringValue, !messageID.isEmpty, messageID.utf8.count <= 128 else {
                return .invalid(op: nil, id: nil, field: nil, reason: "ack needs message_id")
            }
            return .request(id: nil, .ack(messageID: messageID))
        }
        guard let id = object["id"]?.intValue else { return .invalid(op: op, id: nil, field: nil, reason: "missing or non-integer id") }
        do {
            return .request(id: id, try request(op: op, fields: FieldReader(object: object)))
        } catch let error as FieldError {
            return .invalid(op: op, id: id, field: error.field, reason: error.reason)
        } catch {
            return .invalid(op: op, id: id, field: nil, reason: "invalid frame")
        }
    }

    private static func request(op: String, fields: FieldReader) throws -> ClientRequest {
        switch op {
        case "login":
            return .login(appID: try fields.string("app_id"), userID: try fields.string("user_id"),
                          token: try fields.optionalString("token"))
        case "logout":
            return .logout
        case "renew_token":
            return .renewToken(token: try fields.string("token"))
        case "resume":
            return .resume(sessionID: try fields.string("session_id"), token: try fields.optionalString("token"),
                           lastEventSeq: try fields.optionalInt("last_event_seq") ?? 0)
        case "send_peer":
            return .sendPeer(to: try fields.string("to"), payload: try fields.payload(),
                             offline: try fields.optionalBool("offline") ?? false,
                             history: try fields.optionalBool("history") ?? false)
        case "join":
            return .join(channel: try fields.string("channel"))
        case "leave":
            return .leave(channel: try fields.string("channel"))
        case "send_channel":
            return .sendChannel(channel: try fields.string("channel"), payload: try fields.payload(),
                                history: try fields.optionalBool("history") ?? false)
        case "get_members":
            return .getMembers(channel: try fields.string("channel"))
        case "get_channel_member_count":
            return .getChannelMemberCount(channels: try fields.strings("channels"))
        case "query_peers_online_status":
            return .queryPeersOnlineStatus(userIDs: try fields.strings("user_ids"))
        case "subscribe_peers_online_status":
            return .subscribePeersOnlineStatus(userIDs: try fields.strings("user_ids"))
        case "unsubscribe_peers_online_status":
            return .unsubscribePeersOnlineStatus(userIDs: try fields.strings("user_ids"))
        case "set_local_user_attributes":
            return .setLocalUserAttributes(try fields.attributes())
        case "add_or_update_local_user_attributes":
            return .addOrUpdateLocalUserAttributes(try fields.attributes())
        case "delete_local_user_attributes_by_keys":
            return .deleteLocalUserAttributesByKeys(try fields.strings("keys"))
        case "clear_local_user_attributes":
            return .clearLocalUserAttributes
        case "get_user_attributes":
            return .getUserAttributes(userID: try fields.string("user_id"), keys: try fields.optionalStrings("keys"))
        case "set_channel_attributes":
            return .setChannelAttributes(channel: try fields.string("channel"), attributes: try fields.attributes(),
                                         notify: try fields.optionalBool("notify") ?? false)
        case "add_or_update_channel_attributes":
            return .addOrUpdateChannelAttributes(channel: try fields.string("channel"), attributes: try fields.attributes(),
                                                 notify: try fields.optionalBool("notify") ?? false)
        case "delete_channel_attributes_by_keys":
            return .deleteChannelAttributesByKeys(channel: try fields.string("channel"), keys: try fields.strings("keys"),
                                                  notify: try fields.optionalBool("notify") ?? false)
        case "clear_channel_attributes":
            return .clearChannelAttributes(channel: try fields.string("channel"), notify: try fields.optionalBool("notify") ?? false)
        case "get_channel_attributes":
            return .getChannelAttributes(channel: try fields.string("channel"), keys: try fields.optionalStrings("keys"))
        default:
            return .notYetSupported(op: op)
        }
    }
}

struct FieldError: Error {
    /// The field at fault (`text` stands for the message body: text, raw or description).
    var field: String
    var reason: String
}

/// Typed access to a frame's fields; every accessor throws a ``FieldError`` naming the field.
struct FieldReader {
    var object: [String: JSONValue]

    func string(_ name: String) throws -> String {
        guard let value = object[name] else { throw FieldError(field: name, reason: "missing \(name)") }
        guard let text = value.stringValue else { throw FieldError(field: name, reason: "\(name) must be a string") }
        return text
    }

    func optionalString(_ name: String) throws -> String? {
        guard let value = object[name], value != .null else { return nil }
        guard let text = value.stringValue else { throw FieldError(field: name, reason: "\(name) must be a string") }
        return text
    }

    func optionalBool(_ name: String) throws -> Bool? {
        guard let value = object[name], value != .null else { return nil }
        guard let flag = value.boolValue else { throw FieldError(field: name, reason: "\(name) must be a boolean") }
        return flag
    }

    func optionalInt(_ name: String) throws -> Int64? {
        guard let value = object[name], value != .null else { return nil }
        guard let number = value.intValue else { throw FieldError(field: name, reason: "\(name) must be an integer") }
        return number
    }

    func strings(_ name: String) throws -> [String] {
        guard let array = object[name]?.arrayValue else { throw FieldError(field: name, reason: "\(name) must be an array of strings") }
        return try array.map { element in
            guard let text = element.stringValue else { throw FieldError(field: name, reason: "\(name) must be an array of strings") }
            return text
        }
    }

    func optionalStrings(_ name: String) throws -> [String]? {
        guard let value = object[name], value != .null else { return nil }
        return try strings(name)
    }

    /// `attributes`: an array of `{"key": string, "value": string}` (at most 1,000 entries read).
    func attributes() throws -> [AttributePair] {
        guard let array = object["attributes"]?.arrayValue, array.count <= 1000 else {
            throw FieldError(field: "attributes", reason: "attributes must be an array of {key, value}")
        }
        return try array.map { element in
            guard let entry = element.objectValue, let key = entry["key"]?.stringValue, let value = entry["value"]?.stringValue else {
                throw FieldError(field: "attributes", reason: "attributes must be an array of {key, value}")
            }
            return AttributePair(key: key, value: value)
        }
    }

    func payload() throws -> MessagePayload {
        switch MessagePayload.read(from: object) {
        case .none: throw FieldError(field: "text", reason: "text or raw is required")
        case .some(.none): throw FieldError(field: "text", reason: "text, raw and description must be strings")
        case .some(.some(let payload)): return payload
        }
    }
}
