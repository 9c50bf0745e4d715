import NIOCore
import RTMCore
import RTMProtocol

extension GatewayConnection {
    /// Reads one text message and answers it.
    func handle(_ text: ByteBuffer, loop: inout ReadLoop) async {
        switch RequestParser.parse(text.readableBytesView) {
        case .invalid(let op, let id, let field, let reason):
            if let op, let id {
                reply(id, code: Self.invalidArgumentCode(op: op, field: field))
            } else {
                protocolError(reason, loop: &loop)
            }
        case .request(_, .ack(let messageID)):
            if routerSession != nil { session?.acknowledge([messageID]) }
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
        let windowMS = gateway.configuration.protocolErrorWindow.milliseconds
        loop.protocolErrorTimes = loop.protocolErrorTimes.filter { now - $0 < windowMS } + [now]
        if loop.protocolErrorTimes.count >= gateway.configuration.protocolErrorLimit {
            loop.isClosing = true
            close(code: RTMCloseCode.policyViolation, reason: "too many protocol errors")
        }
    }

    private func dispatch(_ request: ClientRequest, id: Int64, loop: inout ReadLoop) async {
        switch request {
        case .login(let app, let user, let token):
            return await login(appText: app, userText: user, token: token, id: id, loop: &loop)
        case .resume(let sessionID, let token, let lastEventSeq):
            return await resume(sessionID: sessionID, token: token, lastEventSeq: lastEventSeq, id: id, loop: &loop)
        default:
            break
        }
        guard let routerSession, broker.isCurrent(routerSession) else { return reply(id, code: ReplyCode.userNotLoggedIn) }
        let now = clock.nowMilliseconds()
        switch request {
        case .logout:
            reply(id, code: LogoutErrorCode.ok.rawValue)
            endSession()
            loop.isClosing = true
            close(code: RTMCloseCode.normal, reason: "logout")
        case .renewToken(let token):
            guard loop.limits.allow(.logins, now: now) else { return reply(id, code: RenewTokenErrorCode.tooOften.rawValue) }
            await renewToken(token, id: id, routerSession: routerSession)
        case .sendPeer(let to, let payload, let offline, let history):
            guard loop.limits.allow(.sends, now: now) else { return reply(id, code: PeerMessageErrorCode.tooOften.rawValue) }
            await sendPeer(to: to, payload: payload, offline: offline, history: history, id: id, session: routerSession)
        case .join, .leave, .sendChannel, .getMembers, .getChannelMemberCount:
            await channelOp(request, id: id, session: routerSession, now: now, loop: &loop)
        case .queryPeersOnlineStatus, .subscribePeersOnlineStatus, .unsubscribePeersOnlineStatus:
            guard loop.limits.allow(.presence, now: now) else { return reply(id, code: PeerSubscriptionStatusErrorCode.tooOften.rawValue) }
            presenceOp(request, id: id, session: routerSession)
        case .setLocalUserAttributes, .addOrUpdateLocalUserAttributes, .deleteLocalUserAttributesByKeys, .clearLocalUserAttributes,
             .setChannelAttributes, .addOrUpdateChannelAttributes, .deleteChannelAttributesByKeys, .clearChannelAttributes:
            guard loop.limits.allow(.attributeWrites, now: now) else { return reply(id, code: AttributeOperationErrorCode.tooOften.rawValue) }
            attributeWrite(request, id: id, session: routerSession)
        case .getUserAttributes, .getChannelAttributes:
            guard loop.limits.allow(.attributeReads, now: now) else { return reply(id, code: AttributeOperationErrorCode.tooOften.rawValue) }
            attributeRead(request, id: id, session: routerSession)
        case .notYetSupported:
            reply(id, code: ReplyCode.failure)
        case .login, .resume, .ack:
            break
        }
    }

    private func sendPeer(to: String, payload: MessagePayload, offline: Bool, history: Bool, id: Int64, session: RouterSession) async {
        guard let receiver = UserID(to), to != "null" else { return reply(id, code: PeerMessageErrorCode.invalidUserID.rawValue) }
        guard payload.isValid else { return reply(id, code: PeerMessageErrorCode.invalidMessage.rawValue) }
        let message = PeerMessage(appID: session.appID, from: session.userID, to: receiver, content: Self.content(payload))
        let outcome: MessageService.PeerOutcome
        do {
            outcome = try await gateway.messages.sendPeer(message, wantAck: true, offline: offline, history: history)
        } catch {
            logger.error("storing a peer message failed: \(error)")
            return reply(id, code: PeerMessageErrorCode.failure.rawValue)
        }
        switch outcome {
        case .offline(let messageID, let timestamp):
            reply(id, code: PeerMessageErrorCode.peerUnreachable.rawValue) { Self.stamp(&$0, messageID, timestamp) }
        case .cached(let messageID, let timestamp):
            reply(id, code: PeerMessageErrorCode.cachedByServer.rawValue) { Self.stamp(&$0, messageID, timestamp) }
        case .failed(let messageID, let timestamp):
            reply(id, code: PeerMessageErrorCode.failure.rawValue) { Self.stamp(&$0, messageID, timestamp) }
        case .handedOff(let messageID, let timestamp):
            let timeout = gateway.configuration.peerAckTimeout
            Task {
                let acked = await self.broker.awaitAck(messageID: messageID, timeout: timeout)
                let code = acked ? PeerMessageErrorCode.ok : PeerMessageErrorCode.sentTimeout
                self.reply(id, code: code.rawValue) { Self.stamp(&$0, messageID, timestamp) }
            }
        }
    }

    static func stamp(_ reply: inout ReplyBuilder, _ messageID: String, _ timestamp: Int64) {
        reply.field("message_id", messageID)
        reply.field("server_ts", timestamp)
    }

    static func content(_ payload: MessagePayload) -> MessageContent {
        switch payload {
        case .text(let text): .text(text)
        case .raw(let base64, let description): .raw(base64: base64, description: description)
        }
    }

    /// The op's INVALID_ARGUMENT value (or its closest code) for a frame with bad fields.
    static func invalidArgumentCode(op: String, field: String?) -> Int {
        switch op {
        case "login", "resume": LoginErrorCode.invalidArgument.rawValue
        case "logout": LogoutErrorCode.rejected.rawValue
        case "renew_token": RenewTokenErrorCode.invalidArgument.rawValue
        case "send_peer": field == "to" ? PeerMessageErrorCode.invalidUserID.rawValue : PeerMessageErrorCode.invalidMessage.rawValue
        case "join": JoinChannelErrorCode.invalidArgument.rawValue
        case "send_channel": field == "channel" ? ChannelMessageErrorCode.failure.rawValue : ChannelMessageErrorCode.invalidMessage.rawValue
        case "get_channel_member_count": GetChannelMemberCountErrorCode.invalidArgument.rawValue
        case "query_peers_online_status", "subscribe_peers_online_status", "unsubscribe_peers_online_status": 2
        case _ where op.contains("attributes"): AttributeOperationErrorCode.invalidArgument.rawValue
        default: 1
        }
    }
}
