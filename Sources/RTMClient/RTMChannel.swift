import RTMProtocol

/// A channel as a client sees it: join, leave, send, list members, and its events.
public final class RTMChannel: Sendable {
    public let name: String
    let client: RTMClient
    /// Messages, member joins and leaves, member counts and attribute updates, in order. Single consumer.
    public let events: AsyncStream<RTMChannelEvent>

    init(name: String, client: RTMClient) {
        self.name = name
        self.client = client
        let (events, continuation) = AsyncStream.makeStream(of: RTMChannelEvent.self, bufferingPolicy: .bufferingNewest(100_000))
        self.events = events
        client.outputs.channels.withLock { $0[name] = continuation }
    }

    /// Joins the channel (at most 20 at once).
    /// - Throws: `JoinChannelErrorCode`.
    public func join() async throws(JoinChannelErrorCode) {
        let reply = try await client.call(.join(channel: name), notLoggedIn: JoinChannelErrorCode.userNotLoggedIn, interrupted: JoinChannelErrorCode.timeout)
        guard reply.code == ReplyCode.ok else { throw JoinChannelErrorCode(rawValue: reply.code) ?? .failure }
        await client.engine.didJoin(name)
    }

    /// Leaves the channel. - Throws: `LeaveChannelErrorCode`.
    public func leave() async throws(LeaveChannelErrorCode) {
        let reply = try await client.call(.leave(channel: name), notLoggedIn: LeaveChannelErrorCode.userNotLoggedIn, interrupted: LeaveChannelErrorCode.failure)
        await client.engine.didLeave(name)
        guard reply.code == ReplyCode.ok else { throw LeaveChannelErrorCode(rawValue: reply.code) ?? .failure }
    }

    /// Sends a message to the other members; returns once the server accepted it.
    /// - Throws: `ChannelMessageErrorCode`.
    public func send(_ message: RTMMessage, history: Bool = false) async throws(ChannelMessageErrorCode) {
        let reply = try await client.call(.sendChannel(channel: name, payload: message.payload, history: history),
                                          notLoggedIn: ChannelMessageErrorCode.userNotLoggedIn, interrupted: ChannelMessageErrorCode.sentTimeout)
        guard reply.code == ReplyCode.ok else { throw ChannelMessageErrorCode(rawValue: reply.code) ?? .failure }
    }

    /// The members (at most 512). - Throws: `GetMembersErrorCode`.
    public func members() async throws(GetMembersErrorCode) -> [String] {
        let reply = try await client.call(.getMembers(channel: name), notLoggedIn: GetMembersErrorCode.userNotLoggedIn, interrupted: GetMembersErrorCode.timeout)
        guard reply.code == ReplyCode.ok else { throw GetMembersErrorCode(rawValue: reply.code) ?? .failure }
        return reply.fields["members"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }
}
