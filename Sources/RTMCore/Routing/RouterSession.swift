/// One logged-in user on one connection, as the router sees it.
package final class RouterSession: Sendable {
    package let appID: AppID
    package let userID: UserID
    /// Opaque id given to the client at login.
    package let sessionID: String
    package let sink: any SessionSink

    package init(appID: AppID, userID: UserID, sessionID: String, sink: any SessionSink) {
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
