/// One logged-in user on one connection, as the router sees it.
public final class RouterSession: Sendable {
    public let appID: AppID
    public let userID: UserID
    /// Opaque id given to the client at login.
    public let sessionID: String
    public let sink: any SessionSink

    public init(appID: AppID, userID: UserID, sessionID: String, sink: any SessionSink) {
        self.appID = appID
        self.userID = userID
        self.sessionID = sessionID
        self.sink = sink
    }

    var key: SessionKey { SessionKey(appID: appID, userID: userID) }
}

struct SessionKey: Hashable, Sendable {
    var appID: AppID
    var userID: UserID
}

struct ChannelKey: Hashable, Sendable {
    var appID: AppID
    var channel: ChannelName
}
