import HTTPTypes
import Hummingbird
import NIOCore
import RTMCore

extension RESTAPI {
    /// `POST …/rtm/users/<user_id>/peer_messages[?wait_for_ack=]`.
    func peerMessage(request: Request, context: some RequestContext, requestID: String) async throws -> Response {
        let (app, principal, body) = try await admit(request: request, context: context)
        let from = try sender(context: context, principal: principal)
        let fields = try Self.decode(PeerMessageBody.self, from: body)
        guard let destination = fields.destination.flatMap(UserID.init) else {
            throw APIError.invalidParameter("destination must be 1-64 characters from the allowed set, without leading or trailing spaces.")
        }
        let content = try Self.content(fields.payload)
        let waitForAck = try Self.waitForAck(request.uri.queryParameters["wait_for_ack"].map(String.init))

        let outcome = try await messages.sendPeer(PeerMessage(appID: app.appID, from: from, to: destination, content: content),
                                                  wantAck: waitForAck, offline: fields.enable_offline_messaging ?? false,
                                                  history: fields.enable_historical_messaging ?? false)
        switch outcome {
        case .offline, .cached, .failed:
            // Stored or not, the receiver is offline; a receiver whose connection is closing is as good as offline.
            return RESTResponse.success(requestID: requestID, code: "message_offline")
        case .handedOff(let messageID, _):
            guard waitForAck else { return RESTResponse.success(requestID: requestID, code: "message_sent") }
            guard await router.awaitAck(messageID: messageID, timeout: configuration.ackTimeout) else { throw APIError.timeout }
            return RESTResponse.success(requestID: requestID, code: "message_delivered")
        }
    }

    /// `POST …/rtm/users/<user_id>/channel_messages`: fans out to every member but the sender.
    func channelMessage(request: Request, context: some RequestContext, requestID: String) async throws -> Response {
        let (app, principal, body) = try await admit(request: request, context: context)
        let from = try sender(context: context, principal: principal)
        let fields = try Self.decode(ChannelMessageBody.self, from: body)
        guard let channel = fields.channel_name.flatMap(ChannelName.init) else {
            throw APIError.invalidParameter("channel_name must be 1-64 characters from the allowed set, without leading or trailing spaces.")
        }
        let content = try Self.content(fields.payload)
        _ = try await messages.sendChannel(app: app.appID, channel: channel, from: from, content: content,
                                           history: fields.enable_historical_messaging ?? false)
        return RESTResponse.success(requestID: requestID, code: "message_sent")
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
}
