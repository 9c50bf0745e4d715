import HTTPTypes
import Hummingbird
import RTMCore

extension RESTAPI {
    func registerEvents<Context: RequestContext>(on httpRouter: Hummingbird.Router<Context>) {
        let base = "/dev/v2/project/:appid/rtm/vendor"
        httpRouter.get("\(base)/user_events") { request, context in
            await self.respond(route: "user_events", request: request, context: context) { requestID in
                try await self.drainEvents(.user, request: request, context: context, requestID: requestID)
            }
        }
        httpRouter.get("\(base)/channel_events") { request, context in
            await self.respond(route: "channel_events", request: request, context: context) { requestID in
                try await self.drainEvents(.channel, request: request, context: context, requestID: requestID)
            }
        }
    }

    /// Destructive read of up to 1,000 of the oldest events of the feed.
    func drainEvents(_ feed: RTMEvent.Feed, request: Request, context: some RequestContext, requestID: String) async throws -> Response {
        let (app, principal) = try await authenticate(request: request, context: context)
        try principal.checkAppWideAccess(in: app)
        try Self.check(eventsLimiter.acquire(app.appID, limit: .perSecond(configuration.eventsRateLimit)))
        await eventRecorder?.flush()
        let events = try await messages.stores.events.drain(feed, of: app.appID, limit: configuration.eventsPerReply)
        let list: [[String: Any]] = events.map { event in
            var entry: [String: Any] = ["user_id": event.userID, "type": event.kind.rawValue, "ms": event.timestamp]
            if feed == .channel { entry["group_id"] = event.channel ?? "" }
            return entry
        }
        return RESTResponse.success(requestID: requestID, fields: ["events": list])
    }
}
