/// A channel attribute with who last wrote it and when (ms), both set by the server.
public struct ChannelAttribute: Sendable, Equatable {
    public var key: String
    public var value: String
    public var lastUpdateUserID: UserID
    public var lastUpdateTimestamp: Int64

    public init(key: String, value: String, lastUpdateUserID: UserID, lastUpdateTimestamp: Int64) {
        self.key = key
        self.value = value
        self.lastUpdateUserID = lastUpdateUserID
        self.lastUpdateTimestamp = lastUpdateTimestamp
    }
}

/// A key/value pair for user or channel attribute writes.
public struct AttributeEntry: Sendable, Equatable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}
