import Foundation

/// A change one node makes that the other nodes must learn, or a message that crosses nodes
/// (docs/CLUSTER.md). It travels as JSON text in a ``BusEnvelope``; the publishing node is the
/// envelope's origin. Ids travel as text and are checked where they are used.
package enum ClusterEvent: Codable, Equatable, Sendable {
    /// The user logged in on the origin node with `session` (an older session elsewhere ends).
    case login(app: String, user: String, session: String)
    /// The session ended (logout, expiry, kick): the user is offline unless a newer session holds it.
    case logout(app: String, user: String, session: String)
    /// The session lost its connection past the first grace step (UNREACHABLE) or got it back (ONLINE).
    case reachability(app: String, user: String, session: String, reachable: Bool)
    case join(app: String, channel: String, user: String)
    case leave(app: String, channel: String, user: String)
    /// The users a session watches, all of them (kept for a takeover of the session).
    case subscriptions(app: String, user: String, session: String, users: [String])
    /// The user's attributes, whole, after a write on the node holding it.
    case userAttributes(app: String, user: String, attributes: [Attribute])
    /// A channel's whole attribute set after a write on the origin node; with `notify`, members get it.
    /// `announced`: not a write but a node telling what it holds (after a resync).
    case channelAttributes(app: String, channel: String, attributes: [ChannelAttributeValue], notify: Bool, announced: Bool)
    /// A peer message for a user the view places on `receiverNode`.
    case peerMessage(PeerMessage)
    /// A channel message: every node delivers it to its own members.
    case channelMessage(ChannelMessage)
    /// The receiver acknowledged (or gave up) a message whose sender waits on `senderNode`.
    case ack(messageID: String, senderNode: String, acknowledged: Bool)
    /// A node's lease ran out: its users are offline and its members gone.
    case nodeLost(node: String)
    /// A node is stopping (SIGTERM) and hands its sessions over: they stay online for the grace
    /// period, for their clients to resume elsewhere; its logouts that follow are not logouts.
    case nodeLeaving(node: String)
    /// Peer messages for the user were stored offline on the origin node, which holds no session of
    /// it: the node that holds one delivers them from the store (the user logged in or resumed there
    /// before the origin learned of it, e.g. while its node was stopping or the origin starting).
    case messagesStored(app: String, user: String)
    /// A node (re)started listening and may have missed events: every other node announces its
    /// sessions again (logins, joins, reachability, attributes), which the views take as no-ops
    /// where they knew them already.
    case announceRequest

    package struct Attribute: Codable, Equatable, Sendable {
        package var key: String
        package var value: String
        package init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    package struct ChannelAttributeValue: Codable, Equatable, Sendable {
        package var key: String
        package var value: String
        package var updatedBy: String
        package var updatedAt: Int64
        package init(key: String, value: String, updatedBy: String, updatedAt: Int64) {
            self.key = key
            self.value = value
            self.updatedBy = updatedBy
            self.updatedAt = updatedAt
        }
    }

    /// A message's content as it crosses: text, or raw data (base64) with its description.
    package struct Content: Codable, Equatable, Sendable {
        package var text: String?
        package var rawBase64: String?
        package var description: String?
        package init(text: String? = nil, rawBase64: String? = nil, description: String? = nil) {
            self.text = text
            self.rawBase64 = rawBase64
            self.description = description
        }
    }

    package struct PeerMessage: Codable, Equatable, Sendable {
        package var app: String
        package var from: String
        package var to: String
        package var receiverNode: String
        package var messageID: String
        package var content: Content
        package var serverTimestamp: Int64
        /// The sender waits for the receiver's ack (its node holds the slot).
        package var wantsAck: Bool
        /// The receiver's session keeps an offline copy to store if it must give the message up.
        package var offline: Bool

        package init(app: String, from: String, to: String, receiverNode: String, messageID: String, content: Content,
                     serverTimestamp: Int64, wantsAck: Bool, offline: Bool) {
            self.app = app
            self.from = from
            self.to = to
            self.receiverNode = receiverNode
            self.messageID = messageID
            self.content = content
            self.serverTimestamp = serverTimestamp
            self.wantsAck = wantsAck
            self.offline = offline
        }
    }

    package struct ChannelMessage: Codable, Equatable, Sendable {
        package var app: String
        package var channel: String
        package var from: String
        package var messageID: String
        package var content: Content
        package var serverTimestamp: Int64

        package init(app: String, channel: String, from: String, messageID: String, content: Content, serverTimestamp: Int64) {
            self.app = app
            self.channel = channel
            self.from = from
            self.messageID = messageID
            self.content = content
            self.serverTimestamp = serverTimestamp
        }
    }

    /// The event as a bus body (JSON; U+0000 travels escaped, so the text never holds it).
    package func encoded() -> String {
        // Encoding plain strings, numbers and booleans cannot fail.
        String(decoding: try! JSONEncoder().encode(self), as: UTF8.self)
    }

    /// The event a bus body holds, or `nil` if it holds none this version knows.
    package static func decode(_ body: String) -> ClusterEvent? {
        try? JSONDecoder().decode(ClusterEvent.self, from: Data(body.utf8))
    }
}
