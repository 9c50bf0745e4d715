import RTMCore

/// Tunables of the REST API.
package struct RESTConfiguration: Sendable {
    /// How long `wait_for_ack=true` waits for the receiver's ack before answering 408.
    package var ackTimeout: Duration = .seconds(10)
    /// Peer + channel calls per second per app, unless the app sets its own.
    package var defaultMessagingRateLimit = 500
    /// Largest request body; larger ones get 413.
    package var maximumBodyBytes = 64 * 1024
    /// History query/get/count calls per second per app.
    package var historyRateLimit = 100
    /// User and channel event feed calls per second per app.
    package var eventsRateLimit = 10
    /// How long an unused history query handle stays valid.
    package var historyHandleLifetime: Duration = .seconds(300)
    /// Events returned per feed call.
    package var eventsPerReply = 1_000

    package init() {}
}
