/// A session held by another node, as this node knows it: what a `resume` here takes over
/// (docs/CLUSTER.md, "Takeover"), whether that node was lost, is stopping, or is not known lost yet.
package struct OrphanedSession: Sendable, Equatable {
    package var appID: AppID
    package var userID: UserID
    package var sessionID: String
    package var channels: [ChannelName]
    package var subscriptions: [UserID]
    package var attributes: [AttributeEntry]
    /// Others still see the user online and in its channels (its node handed it over, or is not
    /// known lost yet), so the takeover shows them nothing. Otherwise its node was reported lost and
    /// others saw the user leave: they see it join again.
    package var othersStillSeeIt: Bool

    package init(appID: AppID, userID: UserID, sessionID: String, channels: [ChannelName], subscriptions: [UserID],
                 attributes: [AttributeEntry], othersStillSeeIt: Bool = false) {
        self.othersStillSeeIt = othersStillSeeIt
        self.appID = appID
        self.userID = userID
        self.sessionID = sessionID
        self.channels = channels
        self.subscriptions = subscriptions
        self.attributes = attributes
    }
}
