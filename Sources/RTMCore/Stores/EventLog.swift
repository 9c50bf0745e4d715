/// A user or channel event for the polling feeds (`agora-rtm-rest.md` §6).
package struct RTMEvent: Sendable, Equatable {
    package enum Feed: String, Sendable {
        case user, channel
    }

    package enum Kind: String, Sendable {
        case login = "Login", logout = "Logout", join = "Join", leave = "Leave"

        package var feed: Feed { self == .login || self == .logout ? .user : .channel }
    }

    package var appID: AppID
    package var userID: String
    package var kind: Kind
    /// The channel, for Join/Leave.
    package var channel: String?
    /// When it happened, ms since the epoch.
    package var timestamp: Int64

    package init(appID: AppID, userID: String, kind: Kind, channel: String? = nil, timestamp: Int64) {
        self.appID = appID
        self.userID = userID
        self.kind = kind
        self.channel = channel
        self.timestamp = timestamp
    }
}

/// Buffers events per app and feed, at most `capacity` each (oldest dropped); reads are destructive.
package protocol EventLog: Sendable {
    func append(_ events: [RTMEvent], capacity: Int) async throws
    /// Removes and returns up to `limit` of the oldest events of `feed`, oldest first.
    func drain(_ feed: RTMEvent.Feed, of app: AppID, limit: Int) async throws -> [RTMEvent]
}

/// An ``EventLog`` in memory.
package actor InMemoryEventLog: EventLog {
    private var buffers: [String: [RTMEvent]] = [:]

    package init() {}

    private static func key(_ app: AppID, _ feed: RTMEvent.Feed) -> String { app.rawValue + "/" + feed.rawValue }

    package func append(_ events: [RTMEvent], capacity: Int) {
        for event in events {
            let key = Self.key(event.appID, event.kind.feed)
            var buffer = buffers[key] ?? []
            buffer.append(event)
            if buffer.count > capacity { buffer.removeFirst(buffer.count - capacity) }
            buffers[key] = buffer
        }
    }

    package func drain(_ feed: RTMEvent.Feed, of app: AppID, limit: Int) -> [RTMEvent] {
        let key = Self.key(app, feed)
        let buffer = buffers[key] ?? []
        let taken = Array(buffer.prefix(limit))
        buffers[key] = Array(buffer.dropFirst(taken.count))
        return taken
    }
}
