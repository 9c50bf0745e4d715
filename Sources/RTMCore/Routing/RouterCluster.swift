/// What a cluster adds to a node's ``Router`` (docs/CLUSTER.md): what the other nodes hold, asked
/// when an answer must cover the whole cluster, and where this node's own changes go so that the
/// other nodes learn them. A router without one is a whole server on its own.
///
/// The router calls it with its locks held: the questions answer from memory and never call back
/// into the router; ``changed(_:)`` only enqueues.
package protocol RouterCluster: AnyObject, Sendable {
    /// How another node's session of `user` stands (ONLINE or UNREACHABLE), `nil` if none holds it.
    func presenceElsewhere(of user: UserID, in app: AppID) -> PeerOnlineState?
    /// The members other nodes hold in `channel`.
    func membersElsewhere(of channel: ChannelName, in app: AppID) -> [UserID]
    /// How many members other nodes hold in `channel`.
    func memberCountElsewhere(of channel: ChannelName, in app: AppID) -> Int
    /// The attributes of `user` if another node holds it.
    func attributesElsewhere(of user: UserID, in app: AppID) -> [AttributeEntry]?
    /// A change of this node's sessions, in the order the router made them.
    func changed(_ change: LocalChange)
}

/// A change of one of this node's sessions that the other nodes must learn.
package enum LocalChange: Sendable, Equatable {
    case login(AppID, UserID, sessionID: String)
    /// The session ended; `replaced` by a newer login of the user (here or on another node), in
    /// which case the user did not go offline and only this node needs to know.
    case logout(AppID, UserID, sessionID: String, replaced: Bool)
    case reachability(AppID, UserID, sessionID: String, reachable: Bool)
    case join(AppID, ChannelName, UserID)
    case leave(AppID, ChannelName, UserID)
    case userAttributes(AppID, UserID, [AttributeEntry])
    /// The users a session watches, all of them, after a change.
    case subscriptions(AppID, UserID, sessionID: String, [UserID])
    /// A channel's whole attribute set after a write; `notify`: members get it.
    case channelAttributes(AppID, ChannelName, [ChannelAttribute], notify: Bool)
}
