/// What an RTM token (a credential held by an end user) reaches on an app's REST API.
///
/// A customer credential (HTTP Basic) always reaches the whole app; this setting is about tokens only.
/// Sends are the same under both: a token sends only as its own user.
package enum RESTTokenScope: String, Sendable, CaseIterable {
    /// Agora's behaviour, the default: a valid token of any user of the app may read the whole app's
    /// message history (every user's peer messages, every channel's messages) and drain the
    /// destructive event feeds (`user_events`, `channel_events`).
    case app
    /// A token reaches its own user's data only: history holds only the messages that user sent and
    /// the peer messages sent to it; the event feeds (and anything else app-wide) need a customer
    /// credential.
    case user
}

extension RESTTokenScope {
    /// The scope a store column holds; a value this build does not know reads as the narrower ``user``.
    package init(storedValue: String) {
        self = RESTTokenScope(rawValue: storedValue) ?? .user
    }
}
