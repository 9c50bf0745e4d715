import Foundation
import RTMCore
import RTMProtocol

/// A REST send (`…/rtm/users/<user_id>/peer_messages` or `…/channel_messages`), decoded from its
/// path, query and body by ``decode(_:userID:waitForAck:body:principal:)``: the one statement of
/// the send rules, for the regular route and the fast path alike.
struct SendCommand: Equatable {
    /// Which of the two send routes.
    enum Route: Sendable {
        case peer
        case channel
    }

    enum Target: Equatable {
        case peer(UserID, offline: Bool, waitForAck: Bool)
        case channel(ChannelName)
    }

    let from: UserID
    let target: Target
    let content: MessageContent
    let history: Bool

    /// Whether the send needs nothing but memory: no history, no offline storage, no wait for an ack
    /// (the fast path answers only these, on the event loop).
    var isMemoryOnly: Bool {
        guard !history else { return false }
        if case .peer(_, let offline, let waitForAck) = target { return !offline && !waitForAck }
        return true
    }
}

extension SendCommand {
    /// Decodes a send, or the error it is answered with. `userID` is the path segment as sent
    /// (percent-decoded here), `waitForAck` the query's `wait_for_ack` as decoded, `body` the request
    /// body, `principal` who authenticated. The checks run in the order the answers promise: the
    /// sender (400, then 401 for a token of another user), the body (one grammar: strict JSON,
    /// RFC 8259, an object, no key repeated), each known field's type in the body's field order,
    /// the receiver or channel, the payload, `wait_for_ack`.
    static func decode(_ route: Route, userID: String, waitForAck: String?, body: some Sequence<UInt8>,
                       principal: RESTPrincipal) -> Result<SendCommand, APIError> {
        Result {
            let from = try sender(userID, principal: principal)
            let fields = try object(body)
            switch route {
            case .peer:
                let destination = try field("destination", of: fields, as: \.stringValue)
                let payload = try field("payload", of: fields, as: \.stringValue)
                let offline = try field("enable_offline_messaging", of: fields, as: \.boolValue)
                let history = try field("enable_historical_messaging", of: fields, as: \.boolValue)
                guard let receiver = destination.flatMap(UserID.init) else { throw invalidDestination }
                let content = try text(payload)
                let wait = try Self.waitForAck(waitForAck)
                return SendCommand(from: from, target: .peer(receiver, offline: offline ?? false, waitForAck: wait),
                                   content: content, history: history ?? false)
            case .channel:
                let name = try field("channel_name", of: fields, as: \.stringValue)
                let payload = try field("payload", of: fields, as: \.stringValue)
                let history = try field("enable_historical_messaging", of: fields, as: \.boolValue)
                guard let channel = name.flatMap(ChannelName.init) else { throw invalidChannel }
                return SendCommand(from: from, target: .channel(channel), content: try text(payload), history: history ?? false)
            }
        }.mapError { $0 as? APIError ?? .internalError }
    }

    /// A path `user_id` as sent, percent-decoded and validated; with token auth it must be the token's user.
    static func sender(_ raw: String, principal: RESTPrincipal) throws -> UserID {
        let decoded = raw.utf8.contains(UInt8(ascii: "%")) ? raw.removingPercentEncoding : raw
        guard let decoded, let user = UserID(decoded) else { throw invalidUserID }
        if case .user(let tokenUser) = principal, tokenUser != user { throw APIError.unauthorized }
        return user
    }

    /// A body: strict JSON whose top level is an object and whose objects repeat no key.
    static func object(_ body: some Sequence<UInt8>) throws -> [String: JSONValue] {
        switch JSONValue.parseReportingRefusal(body) {
        case .failure(.repeatedKey): throw repeatedKey
        case .failure(.malformed): throw notAnObject
        case .success(let value):
            guard let fields = value.objectValue else { throw notAnObject }
            return fields
        }
    }

    /// A known field: absent or `null` is `nil`; present with another type is refused by name.
    static func field<Value>(_ name: String, of fields: [String: JSONValue], as value: (JSONValue) -> Value?) throws -> Value? {
        guard let raw = fields[name], raw != .null else { return nil }
        guard let typed = value(raw) else { throw APIError.invalidParameter("\(name) has the wrong type.") }
        return typed
    }

    static func text(_ payload: String?) throws -> MessageContent {
        guard let payload, let content = MessageContent.validatedText(payload) else { throw invalidPayload }
        return content
    }

    /// `true`/`false` in any case, or `1`/`0`; absent means `false`.
    static func waitForAck(_ value: String?) throws -> Bool {
        guard let value else { return false }
        switch value.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError.invalidParameter("wait_for_ack must be true, false, 1 or 0.")
        }
    }

    static let invalidUserID = APIError.invalidParameter(
        "user_id must be 1-64 characters from the allowed set, without leading or trailing spaces.")
    static let repeatedKey = APIError.invalidParameter("The body must not repeat a key in an object.")
    static let notAnObject = APIError.invalidParameter("The body must be a JSON object.")
    static let invalidDestination = APIError.invalidParameter(
        "destination must be 1-64 characters from the allowed set, without leading or trailing spaces.")
    static let invalidChannel = APIError.invalidParameter(
        "channel_name must be 1-64 characters from the allowed set, without leading or trailing spaces.")
    static let invalidPayload = APIError.invalidParameter("payload must be a non-empty string of at most 32768 UTF-8 bytes.")
}
