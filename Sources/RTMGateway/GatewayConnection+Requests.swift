import AgoraToken
import NIOCore
import RTMCore
import RTMProtocol

extension GatewayConnection {
    /// Reads one text frame and answers it.
    func handle(_ text: String, loop: inout ReadLoop) async {
        switch RequestParser.parse(text.utf8) {
        case .invalid(let op, let id, let reason):
            if let op, let id {
                reply(id, code: Self.invalidArgumentCode(op: op, reason: reason))
            } else {
                protocolError(reason, loop: &loop)
            }
        case .request(_, .ack(let messageID)):
            if let session { router.ack(messageID: messageID, from: session) }
        case .request(let id?, let request):
            await dispatch(request, id: id, loop: &loop)
        case .request(nil, _):
            protocolError("missing id", loop: &loop)
        }
    }

    private func protocolError(_ reason: String, loop: inout ReadLoop) {
        gateway.metrics.protocolErrors.increment()
        sendEvent(.protocolError(reason: reason))
        let now = clock.nowMilliseconds()
        let window = gateway.configuration.protocolErrorWindow
        let windowMS = window.components.seconds * 1000 + window.components.attoseconds / 1_000_000_000_000_000
        loop.protocolErrorTimes = loop.protocolErrorTimes.filter { now - $0 < windowMS } + [now]
        if loop.protocolErrorTimes.count >= gateway.configuration.protocolErrorLimit {
            loop.isClosing = true
            close(code: 1008, reason: "too many protocol errors")
        }
    }

    private func dispatch(_ request: ClientRequest, id: Int64, loop: inout ReadLoop) async {
        let now = clock.nowMilliseconds()
        if case .login = request {
            await login(request, id: id, loop: &loop)
            return
        }
        if case .resume = request {
            // Session resume arrives with reconnect support; until then every session is unknown.
            reply(id, code: LoginErrorCode.rejected.rawValue)
            return
        }
        guard let session, router.isCurrent(session) else {
            reply(id, code: 102)
            return
        }
        switch request {
        case .logout:
            reply(id, code: LogoutErrorCode.ok.rawValue)
            endSession()
            loop.isClosing = true
            close(code: 1000, reason: "logout")
        case .renewToken(let token):
            guard loop.limits.allow(.logins, now: now) else { return reply(id, code: RenewTokenErrorCode.tooOften.rawValue) }
            await renewToken(token, id: id, session: session)
        case .sendPeer(let to, let payload, _, _):
            guard loop.limits.allow(.sends, now: now) else { return reply(id, code: PeerMessageErrorCode.tooOften.rawValue) }
            sendPeer(to: to, payload: payload, id: id, session: session)
        case .join(let name):
            guard loop.limits.allow(.joins, now: now) else { return reply(id, code: JoinChannelErrorCode.tooOften.rawValue) }
            guard let channel = ChannelName(name) else { return reply(id, code: JoinChannelErrorCode.invalidArgument.rawValue) }
            guard loop.limits.allowJoin(of: name, now: now) else {
                return reply(id, code: JoinChannelErrorCode.joinSameChannelTooOften.rawValue)
            }
            join(channel, id: id, session: session)
        case .leave(let name):
            guard let channel = ChannelName(name) else { return reply(id, code: LeaveChannelErrorCode.failure.rawValue) }
            switch router.leave(session, channel: channel) {
            case .left: reply(id, code: LeaveChannelErrorCode.ok.rawValue)
            case .notInChannel: reply(id, code: LeaveChannelErrorCode.notInChannel.rawValue)
            case .notLoggedIn: reply(id, code: LeaveChannelErrorCode.userNotLoggedIn.rawValue)
            }
        case .sendChannel(let name, let payload, _):
            guard loop.limits.allow(.sends, now: now) else { return reply(id, code: ChannelMessageErrorCode.tooOften.rawValue) }
            guard payload.isValid else { return reply(id, code: ChannelMessageErrorCode.invalidMessage.rawValue) }
            guard let channel = ChannelName(name), router.isMember(session, of: channel) else {
                return reply(id, code: ChannelMessageErrorCode.failure.rawValue)
            }
            let sent = router.sendChannel(app: session.appID, channel: channel, from: session.userID, content: Self.content(payload))
            reply(id, code: ChannelMessageErrorCode.ok.rawValue) { reply in
                reply.field("message_id", sent.messageID)
                reply.field("server_ts", sent.serverTimestamp)
            }
        case .getMembers(let name):
            guard loop.limits.allow(.getMembers, now: now) else { return reply(id, code: GetMembersErrorCode.tooOften.rawValue) }
            guard let channel = ChannelName(name), let members = router.members(of: channel, for: session) else {
                return reply(id, code: GetMembersErrorCode.notInChannel.rawValue)
            }
            reply(id, code: GetMembersErrorCode.ok.rawValue) { $0.field("members", strings: members.map(\.rawValue)) }
        case .getChannelMemberCount(let names):
            guard loop.limits.allow(.memberCountQueries, now: now) else {
                return reply(id, code: GetChannelMemberCountErrorCode.tooOften.rawValue)
            }
            guard names.count <= 32 else { return reply(id, code: GetChannelMemberCountErrorCode.exceedLimit.rawValue) }
            let channels = names.compactMap(ChannelName.init)
            guard !names.isEmpty, channels.count == names.count else {
                return reply(id, code: GetChannelMemberCountErrorCode.invalidArgument.rawValue)
            }
            let counts = router.memberCounts(of: channels, in: session.appID)
            reply(id, code: GetChannelMemberCountErrorCode.ok.rawValue) { reply in
                reply.field("counts", counts: channels.map { ($0.rawValue, counts[$0] ?? 0) })
            }
        case .notYetSupported(let op):
            reply(id, code: Self.failureCode(op: op))
        case .login, .resume, .ack:
            break
        }
    }

    private func sendPeer(to: String, payload: MessagePayload, id: Int64, session: RouterSession) {
        guard let receiver = UserID(to), to != "null" else { return reply(id, code: PeerMessageErrorCode.invalidUserID.rawValue) }
        guard payload.isValid else { return reply(id, code: PeerMessageErrorCode.invalidMessage.rawValue) }
        let message = PeerMessage(appID: session.appID, from: session.userID, to: receiver, content: Self.content(payload))
        let dispatch = router.sendPeer(message, wantAck: true)
        switch dispatch {
        case .offline:
            reply(id, code: PeerMessageErrorCode.peerUnreachable.rawValue) { Self.stamp(&$0, dispatch) }
        case .failed:
            reply(id, code: PeerMessageErrorCode.failure.rawValue) { Self.stamp(&$0, dispatch) }
        case .handedOff(let messageID, _):
            let timeout = gateway.configuration.peerAckTimeout
            Task {
                let acked = await self.router.awaitAck(messageID: messageID, timeout: timeout)
                let code = acked ? PeerMessageErrorCode.ok : PeerMessageErrorCode.sentTimeout
                self.reply(id, code: code.rawValue) { Self.stamp(&$0, dispatch) }
            }
        }
    }

    private static func stamp(_ reply: inout ReplyBuilder, _ dispatch: PeerDispatch) {
        reply.field("message_id", dispatch.messageID)
        reply.field("server_ts", dispatch.serverTimestamp)
    }

    private func join(_ channel: ChannelName, id: Int64, session: RouterSession) {
        let outcome = router.join(session, channel: channel) { outcome in
            if case .joined(let count) = outcome {
                reply(id, code: JoinChannelErrorCode.ok.rawValue)
                sendEvent(.memberCount(channel: channel.rawValue, count: count))
            }
        }
        switch outcome {
        case .joined: break
        case .alreadyJoined: reply(id, code: JoinChannelErrorCode.alreadyJoined.rawValue)
        case .exceedLimit: reply(id, code: JoinChannelErrorCode.exceedLimit.rawValue)
        case .notLoggedIn: reply(id, code: JoinChannelErrorCode.userNotLoggedIn.rawValue)
        }
    }

    static func content(_ payload: MessagePayload) -> MessageContent {
        switch payload {
        case .text(let text): .text(text)
        case .raw(let base64, let description): .raw(base64: base64, description: description)
        }
    }

    /// The op's INVALID_ARGUMENT value (or its closest code) for a frame with bad fields.
    static func invalidArgumentCode(op: String, reason: String) -> Int {
        switch op {
        case "login", "resume": LoginErrorCode.invalidArgument.rawValue
        case "logout": LogoutErrorCode.rejected.rawValue
        case "renew_token": RenewTokenErrorCode.invalidArgument.rawValue
        case "send_peer": reason.split(separator: " ").contains("to") ? PeerMessageErrorCode.invalidUserID.rawValue : PeerMessageErrorCode.invalidMessage.rawValue
        case "join": JoinChannelErrorCode.invalidArgument.rawValue
        case "send_channel": reason.contains("channel") ? ChannelMessageErrorCode.failure.rawValue : ChannelMessageErrorCode.invalidMessage.rawValue
        case "get_channel_member_count": GetChannelMemberCountErrorCode.invalidArgument.rawValue
        case "query_peers_online_status", "subscribe_peers_online_status", "unsubscribe_peers_online_status": 2
        case _ where op.contains("attributes"): AttributeOperationErrorCode.invalidArgument.rawValue
        default: 1
        }
    }

    /// The op's generic FAILURE value, for ops a later release implements.
    static func failureCode(op: String) -> Int {
        op.contains("attributes") ? AttributeOperationErrorCode.failure.rawValue : 1
    }
}
