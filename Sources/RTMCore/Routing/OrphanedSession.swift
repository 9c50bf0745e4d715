/// A session whose node was lost, as the other nodes knew it: what a `resume` on another node takes
/// over within the grace period (docs/CLUSTER.md, "Takeover").
package struct OrphanedSession: Sendable, Equatable {
    package var appID: AppID
    package var userID: UserID
    package var sessionID: String
    package var channels: [ChannelName]
    package var subscriptions: [UserID]
    package var attributes: [AttributeEntry]
    /// Its node stopped and handed it over (SIGTERM): others still see the user online and in its
    /// channels, so the takeover shows them nothing. Otherwise its node was lost, and others saw it leave.
    package var handedOver: Bool

    package init(appID: AppID, userID: UserID, sessionID: String, channels: [ChannelName], subscriptions: [UserID],
                 attributes: [AttributeEntry], handedOver: Bool = false) {
        self.handedOver = handedOver
        self.appID = appID
        self.userID = userID
        self.sessionID = sessionID
        self.channels = channels
        self.subscriptions = subscriptions
        self.attributes = attributes
    }
}
