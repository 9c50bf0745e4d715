import RTMCore
import RTMProtocol

extension GatewayConnection {
    /// `join`, `leave`, `send_channel`, `get_members`, `get_channel_member_count` (`client-protocol.md` §4).
    func channelOp(_ request: ClientRequest, id: Int64, session: RouterSession, now: Int64, loop: inout ReadLoop) async {
        switch request {
        case .join(let name):
            guard loop.limits.allow(.joins, now: now) else { return reply(id, code: JoinChannelErrorCode.tooOften.rawValue) }
            guard let channel = ChannelName(name) else { return reply(id, code: JoinChannelErrorCode.invalidArgument.rawValue) }
            guard loop.limits.allowJoin(of: name, now: now) else {
                return reply(id, code: JoinChannelErrorCode.joinSameChannelTooOften.rawValue)
            }
            join(channel, id: id, session: session)
        case .leave(let name):
            guard let channel = ChannelName(name) else { return reply(id, code: LeaveChannelErrorCode.failure.rawValue) }
            switch broker.leave(session, channel: channel) {
            case .left:
                self.session?.left(channel)
                reply(id, code: LeaveChannelErrorCode.ok.rawValue)
            case .notInChannel: reply(id, code: LeaveChannelErrorCode.notInChannel.rawValue)
            case .notLoggedIn: reply(id, code: LeaveChannelErrorCode.userNotLoggedIn.rawValue)
            }
        case .sendChannel(let name, let payload, let history):
            guard loop.limits.allow(.sends, now: now) else { return reply(id, code: ChannelMessageErrorCode.tooOften.rawValue) }
            guard payload.isValid else { return reply(id, code: ChannelMessageErrorCode.invalidMessage.rawValue) }
            guard let channel = ChannelName(name), broker.isMember(session, of: channel) else {
                return reply(id, code: ChannelMessageErrorCode.failure.rawValue)
            }
            do {
                let sent = try await gateway.messages.sendChannel(app: session.appID, channel: channel, from: session.userID,
                                                                  content: Self.content(payload), history: history)
                reply(id, code: ChannelMessageErrorCode.ok.rawValue) { Self.stamp(&$0, sent.messageID, sent.serverTimestamp) }
            } catch {
                logger.error("storing a channel message failed: \(error)")
                reply(id, code: ChannelMessageErrorCode.failure.rawValue)
            }
        case .getMembers(let name):
            guard loop.limits.allow(.getMembers, now: now) else { return reply(id, code: GetMembersErrorCode.tooOften.rawValue) }
            guard let channel = ChannelName(name), let members = broker.members(of: channel, for: session) else {
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
            let counts = broker.memberCounts(of: channels, in: session.appID)
            reply(id, code: GetChannelMemberCountErrorCode.ok.rawValue) { reply in
                reply.field("counts", counts: channels.map { ($0.rawValue, counts[$0] ?? 0) })
            }
        default:
            break
        }
    }

    private func join(_ channel: ChannelName, id: Int64, session: RouterSession) {
        let outcome = broker.join(session, channel: channel) { outcome in
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
}
