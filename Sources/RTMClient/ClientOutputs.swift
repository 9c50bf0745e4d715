import RTMProtocol
import Synchronization

/// The client's async sequences; they outlive any one socket.
final class ClientOutputs: Sendable {
    let states: AsyncStream<ConnectionStateChange>
    let stateContinuation: AsyncStream<ConnectionStateChange>.Continuation
    let peerMessages: AsyncStream<ReceivedPeerMessage>
    let peerContinuation: AsyncStream<ReceivedPeerMessage>.Continuation
    let events: AsyncStream<ServerEvent>
    let eventContinuation: AsyncStream<ServerEvent>.Continuation
    let presence: AsyncStream<[String: PeerOnlineState]>
    let presenceContinuation: AsyncStream<[String: PeerOnlineState]>.Continuation
    let restored: AsyncStream<Void>
    let restoredContinuation: AsyncStream<Void>.Continuation
    let channels = Mutex<[String: AsyncStream<RTMChannelEvent>.Continuation]>([:])

    init() {
        let policy = AsyncStream<ServerEvent>.Continuation.BufferingPolicy.bufferingNewest(100_000)
        (states, stateContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1_000))
        (peerMessages, peerContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(100_000))
        (events, eventContinuation) = AsyncStream.makeStream(bufferingPolicy: policy)
        (presence, presenceContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        (restored, restoredContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(100))
    }

    /// Routes one server event to the streams that want it.
    func deliver(_ event: ServerEvent) {
        switch event {
        case .peerMessage(let messageID, let from, let payload, let serverTimestamp, let offline):
            peerContinuation.yield(ReceivedPeerMessage(messageID: messageID, from: from, payload: payload,
                                                       serverTimestamp: serverTimestamp, isOffline: offline))
        case .channelMessage(let channel, let from, let messageID, let payload, let serverTimestamp):
            self.channel(channel)?.yield(.message(from: from, payload: payload, messageID: messageID, serverTimestamp: serverTimestamp))
        case .memberJoined(let channel, let user): self.channel(channel)?.yield(.memberJoined(user))
        case .memberLeft(let channel, let user): self.channel(channel)?.yield(.memberLeft(user))
        case .memberCount(let channel, let count): self.channel(channel)?.yield(.memberCount(count))
        case .channelAttributesUpdated(let channel, let attributes): self.channel(channel)?.yield(.attributesUpdated(attributes))
        case .peersOnlineStatus(let statuses):
            var changes: [String: PeerOnlineState] = [:]
            for status in statuses { changes[status.userID] = PeerOnlineState(rawValue: status.state) ?? .offline }
            presenceContinuation.yield(changes)
        case .connectionState, .tokenPrivilegeWillExpire, .protocolError:
            break
        }
        eventContinuation.yield(event)
    }

    private func channel(_ name: String) -> AsyncStream<RTMChannelEvent>.Continuation? {
        channels.withLock { $0[name] }
    }
}

/// Something that happened in a channel.
public enum RTMChannelEvent: Sendable, Equatable {
    case message(from: String, payload: MessagePayload, messageID: String, serverTimestamp: Int64)
    case memberJoined(String)
    case memberLeft(String)
    case memberCount(Int)
    /// The channel's complete attribute set (after a write with notify).
    case attributesUpdated([ChannelAttributeValue])
}
