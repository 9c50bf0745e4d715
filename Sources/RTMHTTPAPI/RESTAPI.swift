import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Logging
import Metrics
import RTMCore
import RTMProtocol

/// The Agora-compatible REST routes under `/dev/v2/project/<appid>` (`server-contract.md` §1).
package struct RESTAPI: Sendable {
    let messages: MessageService
    let broker: any Broker
    /// The event feeds' recorder, flushed before a feed is read.
    let eventRecorder: EventRecorder?
    let apps: AppDirectory
    let configuration: RESTConfiguration
    let authenticator: RESTAuthenticator
    /// The per-app messaging limit: this node's buckets, or a cluster's shared one.
    let messagingLimiter: any MessagingLimiter
    let historyLimiter: KeyedRateLimiter<AppID>
    let eventsLimiter: KeyedRateLimiter<AppID>
    let historyHandles: HistoryQueryHandles
    let requestIDs = RequestIDGenerator()
    let fastMetrics: FastPathMetrics
    let logger: Logger

    package init(messages: MessageService, apps: AppDirectory, eventRecorder: EventRecorder? = nil,
                configuration: RESTConfiguration = RESTConfiguration(), messagingLimiter: (any MessagingLimiter)? = nil,
                logger: Logger = Logger(label: "rtm.rest")) {
        self.messages = messages
        let broker = messages.broker
        self.broker = broker
        self.eventRecorder = eventRecorder
        self.apps = apps
        self.configuration = configuration
        self.authenticator = RESTAuthenticator(apps: apps, clock: broker.clock)
        self.messagingLimiter = messagingLimiter ?? KeyedRateLimiter<AppID>(clock: broker.clock)
        self.historyLimiter = KeyedRateLimiter(clock: broker.clock)
        self.eventsLimiter = KeyedRateLimiter(clock: broker.clock)
        self.historyHandles = HistoryQueryHandles(store: messages.stores.historyHandles, clock: broker.clock,
                                                  lifetime: configuration.historyHandleLifetime)
        self.fastMetrics = FastPathMetrics()
        self.logger = logger
    }

    /// Adds the REST routes to `httpRouter`.
    ///
    /// The sends are registered a second time without the `user_id` segment: the router drops empty
    /// segments, so `…/rtm/users//peer_messages` arrives that way, and is answered like any invalid
    /// id (authentication first, then 400 `invalid_parameter`), not with the router's bare 404.
    package func register<Context: RequestContext>(on httpRouter: Hummingbird.Router<Context>) {
        for base in ["/dev/v2/project/:appid/rtm/users/:user_id", "/dev/v2/project/:appid/rtm/users"] {
            httpRouter.post("\(base)/peer_messages") { request, context in
                await self.respond(route: "peer_messages", request: request, context: context) { requestID in
                    try await self.send(.peer, request: request, context: context, requestID: requestID)
                }
            }
            httpRouter.post("\(base)/channel_messages") { request, context in
                await self.respond(route: "channel_messages", request: request, context: context) { requestID in
                    try await self.send(.channel, request: request, context: context, requestID: requestID)
                }
            }
        }
        registerHistory(on: httpRouter)
        registerEvents(on: httpRouter)
    }

    /// Runs a handler with a fresh request id; maps every error to the JSON error body and counts the result.
    func respond(route: String, request: Request, context: some RequestContext,
                 _ handler: (String) async throws -> Response) async -> Response {
        let requestID = requestIDs.next()
        let response: Response
        do {
            response = try await handler(requestID)
        } catch let error as APIError {
            response = RESTResponse.failure(error, requestID: requestID)
        } catch is NIOTooManyBytesError {
            response = RESTResponse.failure(.tooLarge, requestID: requestID)
        } catch {
            logger.error("request \(requestID) failed: \(error)")
            response = RESTResponse.failure(.internalError, requestID: requestID)
        }
        RESTMetrics.shared.requests(route: route, status: response.status.code).increment()
        if response.status == .tooManyRequests { RESTMetrics.shared.rateLimited(route: route).increment() }
        logger.debug("request \(requestID) \(route) -> \(response.status.code)")
        return response
    }

    /// Authenticates, applies the app's messaging rate limit, and reads the body (in that order).
    func admit(request: Request, context: some RequestContext) async throws -> (AppRecord, RESTPrincipal, ByteBuffer) {
        let (app, principal) = try await authenticate(request: request, context: context)
        try Self.check(await messagingLimiter.take(app.appID, limit: messagingLimit(of: app)))
        return (app, principal, try await readBody(request))
    }

    /// `app`'s messaging rate limit: its own, else the default.
    func messagingLimit(of app: AppRecord) -> RateLimit {
        .perSecond(app.messagingRateLimit ?? configuration.defaultMessagingRateLimit)
    }

    /// A token of `app`'s messaging limit from memory, for the fast path (which never waits: without
    /// one the request goes to the regular route, which waits for a claim or answers 429).
    func takeMessagingTokenFromMemory(_ app: AppRecord) -> Bool {
        messagingLimiter.takeFromMemory(app.appID, limit: messagingLimit(of: app))
    }

    /// The request body, refused with 413 past the limit by `Content-Length` or while streaming.
    func readBody(_ request: Request) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maximumBodyBytes {
            throw APIError.tooLarge
        }
        return try await request.body.collect(upTo: configuration.maximumBodyBytes)
    }

    /// Authenticates the call for the path's app id (unknown apps answer 401 like bad credentials).
    func authenticate(request: Request, context: some RequestContext) async throws -> (AppRecord, RESTPrincipal) {
        let appText = context.parameters.get("appid") ?? ""
        let appRecord: AppRecord? = if let appID = AppID(appText) { await apps.app(appID) } else { nil }
        return try await authenticator.authenticate(request.headers, app: appRecord)
    }

    /// Throws 429 for a refused rate-limit decision.
    static func check(_ decision: RateDecision) throws {
        if case .limited(let seconds) = decision { throw APIError.tooManyRequests(retryAfter: seconds) }
    }

    /// Decodes a request body of the history calls: one grammar with the sends (``SendCommand/object(_:)``:
    /// strict JSON, an object, no key repeated), then the typed fields.
    static func decode<Body: Decodable>(_ type: Body.Type, from buffer: ByteBuffer) throws -> Body {
        _ = try SendCommand.object(buffer.readableBytesView)
        do {
            return try JSONDecoder().decode(Body.self, from: Data(buffer: buffer))
        } catch DecodingError.typeMismatch(_, let context) {
            let field = context.codingPath.first?.stringValue
            throw APIError.invalidParameter(field.map { "\($0) has the wrong type." } ?? "The body must be a JSON object.")
        } catch {
            throw APIError.invalidParameter("The body must be a JSON object.")
        }
    }
}
