/// A channel attribute with who last wrote it and when (ms), both set by the server.
package struct ChannelAttribute: Sendable, Equatable {
    package var key: String
    package var value: String
    package var lastUpdateUserID: UserID
    package var lastUpdateTimestamp: Int64

    package init(key: String, value: String, lastUpdateUserID: UserID, lastUpdateTimestamp: Int64) {
        self.key = key
        self.value = value
        self.lastUpdateUserID = lastUpdateUserID
        self.lastUpdateTimestamp = lastUpdateTimestamp
    }
}

/// A key/value pair for user or channel attribute writes.
package struct AttributeEntry: Sendable, Equatable {
    package var key: String
    package var value: String

    package init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}
