import NIOCore
import RTMCore
import RTMProtocol

/// Encodes router events with the client protocol's JSON codec (see `EventEncoder`).
package struct GatewayEventEncoder: EventEncoder {
    package init() {}

    package func encodeBody(_ event: OutboundEvent) -> ByteBuffer {
        ByteBuffer(bytes: Self.serverEvent(event).encodeBody())
    }

    static func payload(_ content: MessageContent) -> MessagePayload {
        switch content {
        case .text(let text): .text(text)
        case .raw(let base64, let description): .raw(base64: base64, description: description)
        }
    }

    static func serverEvent(_ event: OutboundEvent) -> ServerEvent {
        switch event {
        case .peerMessage(let messageID, let from, let content, let serverTimestamp, let offline):
            .peerMessage(messageID: messageID, from: from.rawValue, payload: payload(content),
                         serverTimestamp: serverTimestamp, offline: offline)
        case .channelMessage(let channel, let from, let messageID, let content, let serverTimestamp):
            .channelMessage(channel: channel.rawValue, from: from.rawValue, messageID: messageID,
                            payload: payload(content), serverTimestamp: serverTimestamp)
        case .memberJoined(let channel, let user): .memberJoined(channel: channel.rawValue, userID: user.rawValue)
        case .memberLeft(let channel, let user): .memberLeft(channel: channel.rawValue, userID: user.rawValue)
        case .memberCount(let channel, let count): .memberCount(channel: channel.rawValue, count: count)
        case .connectionState(let state, let reason): .connectionState(state: state, reason: reason)
        case .tokenPrivilegeWillExpire: .tokenPrivilegeWillExpire
        case .peersOnlineStatus(let statuses):
            .peersOnlineStatus(statuses: statuses.map { PeerStatus(userID: $0.0.rawValue, state: $0.1.rawValue) })
        case .channelAttributesUpdated(let channel, let attributes):
            .channelAttributesUpdated(channel: channel.rawValue, attributes: attributes.map(value))
        }
    }

    static func value(_ attribute: ChannelAttribute) -> ChannelAttributeValue {
        ChannelAttributeValue(key: attribute.key, value: attribute.value, lastUpdateUserID: attribute.lastUpdateUserID.rawValue,
                              lastUpdateTimestamp: attribute.lastUpdateTimestamp)
    }
}
