import HTTPTypes
import Hummingbird
import NIOCore
import RTMCore

extension RESTAPI {
    /// `POST …/rtm/users/<user_id>/peer_messages[?wait_for_ack=]` and `…/channel_messages` on the
    /// regular route: authenticated, rate-limited, decoded by ``SendCommand``, sent by ``deliver(_:app:)``.
    func send(_ route: SendCommand.Route, request: Request, context: some RequestContext, requestID: String) async throws -> Response {
        let (app, principal, body) = try await admit(request: request, context: context)
        let command = try SendCommand.decode(route, userID: context.parameters.get("user_id") ?? "",
                                             waitForAck: request.uri.queryParameters["wait_for_ack"].map(String.init),
                                             body: body.readableBytesView, principal: principal).get()
        return RESTResponse.success(requestID: requestID, code: try await deliver(command, app: app.appID))
    }

    /// Sends a decoded command through the message service; the success code it is answered with
    /// (`message_delivered` once acknowledged, with `wait_for_ack`; 408 when no ack comes in time).
    func deliver(_ command: SendCommand, app: AppID) async throws -> StaticString {
        switch command.target {
        case .peer(let receiver, let offline, let waitForAck):
            let message = PeerMessage(appID: app, from: command.from, to: receiver, content: command.content)
            let outcome = try await messages.sendPeer(message, wantAck: waitForAck, offline: offline, history: command.history)
            guard waitForAck, case .handedOff(let messageID, _) = outcome else { return Self.code(for: outcome) }
            guard await broker.awaitAck(messageID: messageID, timeout: configuration.ackTimeout) else { throw APIError.timeout }
            return "message_delivered"
        case .channel(let channel):
            _ = try await messages.sendChannel(app: app, channel: channel, from: command.from, content: command.content,
                                               history: command.history)
            return "message_sent"
        }
    }

    /// Sends a command that needs nothing but memory (``SendCommand/isMemoryOnly``) at once, without
    /// suspending (the fast path, on the event loop): its success code and the deliveries it queued.
    func deliverFromMemory(_ command: SendCommand, app: AppID) -> (code: StaticString, queuedDeliveries: Int) {
        switch command.target {
        case .peer(let receiver, _, _):
            let outcome = messages.sendPeerFromMemory(PeerMessage(appID: app, from: command.from, to: receiver, content: command.content))
            let queued = if case .handedOff = outcome { 1 } else { 0 }
            return (Self.code(for: outcome), queued)
        case .channel(let channel):
            let sent = messages.sendChannelFromMemory(app: app, channel: channel, from: command.from, content: command.content)
            return ("message_sent", sent.receivers)
        }
    }

    /// `message_sent` for a peer message handed to the receiver's session, `message_offline` for any
    /// other (stored or not: a receiver whose connection is closing is as good as offline).
    static func code(for outcome: MessageService.PeerOutcome) -> StaticString {
        if case .handedOff = outcome { "message_sent" } else { "message_offline" }
    }
}
