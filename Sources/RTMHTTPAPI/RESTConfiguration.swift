import RTMCore

/// Tunables of the REST API.
public struct RESTConfiguration: Sendable {
    /// How long `wait_for_ack=true` waits for the receiver's ack before answering 408.
    public var ackTimeout: Duration = .seconds(10)
    /// Peer + channel calls per second per app, unless the app sets its own.
    public var defaultMessagingRateLimit = 500
    /// Largest request body; larger ones get 413.
    public var maximumBodyBytes = 64 * 1024
    /// History query/get/count calls per second per app.
    public var historyRateLimit = 100
    /// User and channel event feed calls per second per app.
    public var eventsRateLimit = 10
    /// How long an unused history query handle stays valid.
    public var historyHandleLifetime: Duration = .seconds(300)
    /// Events returned per feed call.
    public var eventsPerReply = 1_000

    public init() {}
}
