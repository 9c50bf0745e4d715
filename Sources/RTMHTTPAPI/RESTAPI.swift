import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Logging
import Metrics
import RTMCore
import RTMProtocol

/// The Agora-compatible REST routes under `/dev/v2/project/<appid>` (`server-contract.md` §1).
public struct RESTAPI: Sendable {
    let messages: MessageService
    let router: RTMCore.Router
    let apps: AppDirectory
    let configuration: RESTConfiguration
    let authenticator: RESTAuthenticator
    let messagingLimiter: KeyedRateLimiter<AppID>
    let historyLimiter: KeyedRateLimiter<AppID>
    let eventsLimiter: KeyedRateLimiter<AppID>
    let historyHandles: HistoryQueryHandles
    let requestIDs = RequestIDGenerator()
    let fastMetrics: FastPathMetrics
    let logger: Logger

    public init(messages: MessageService, apps: AppDirectory, configuration: RESTConfiguration = RESTConfiguration(),
                logger: Logger = Logger(label: "rtm.rest")) {
        self.messages = messages
        let router = messages.router
        self.router = router
        self.apps = apps
        self.configuration = configuration
        self.authenticator = RESTAuthenticator(apps: apps, clock: router.clock)
        self.messagingLimiter = KeyedRateLimiter(clock: router.clock)
        self.historyLimiter = KeyedRateLimiter(clock: router.clock)
        self.eventsLimiter = KeyedRateLimiter(clock: router.clock)
        self.historyHandles = HistoryQueryHandles(clock: router.clock, lifetime: configuration.historyHandleLifetime)
        self.fastMetrics = FastPathMetrics()
        self.logger = logger
    }

    /// Adds the REST routes to `httpRouter`.
    ///
    /// The sends are registered a second time without the `user_id` segment: the router drops empty
    /// segments, so `…/rtm/users//peer_messages` arrives that way, and is answered like any invalid
    /// id (authentication first, then 400 `invalid_parameter`), not with the router's bare 404.
    public func register<Context: RequestContext>(on httpRouter: Hummingbird.Router<Context>) {
        for base in ["/dev/v2/project/:appid/rtm/users/:user_id", "/dev/v2/project/:appid/rtm/users"] {
            httpRouter.post("\(base)/peer_messages") { request, context in
                await self.respond(route: "peer_messages", request: request, context: context) { requestID in
                    try await self.peerMessage(request: request, context: context, requestID: requestID)
                }
            }
            httpRouter.post("\(base)/channel_messages") { request, context in
                await self.respond(route: "channel_messages", request: request, context: context) { requestID in
                    try await self.channelMessage(request: request, context: context, requestID: requestID)
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
        try Self.check(takeMessagingToken(app))
        return (app, principal, try await readBody(request))
    }

    /// One token of `app`'s messaging rate limit (its own, else the default), for the regular route and
    /// the fast path alike.
    func takeMessagingToken(_ app: AppRecord) -> RateDecision {
        messagingLimiter.acquire(app.appID, limit: .perSecond(app.messagingRateLimit ?? configuration.defaultMessagingRateLimit))
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

    /// The path's `user_id`, percent-decoded and validated; with token auth it must be the token's user.
    func sender(context: some RequestContext, principal: RESTPrincipal) throws -> UserID {
        let raw = context.parameters.get("user_id") ?? ""
        guard let decoded = raw.removingPercentEncoding else { throw Self.invalidUserID }
        return try Self.sender(decoded, principal: principal)
    }

    /// A decoded path `user_id`, validated; with token auth it must be the token's user.
    static func sender(_ decoded: String, principal: RESTPrincipal) throws -> UserID {
        guard let user = UserID(decoded) else { throw invalidUserID }
        if case .user(let tokenUser) = principal, tokenUser != user { throw APIError.unauthorized }
        return user
    }

    private static let repeatedKey = APIError.invalidParameter("The body must not repeat a key in an object.")

    private static let invalidUserID = APIError.invalidParameter(
        "user_id must be 1-64 characters from the allowed set, without leading or trailing spaces.")

    /// Decodes a request body. A body whose objects repeat a key is refused first (the decoder would
    /// keep the first value where the fast path's parser, and most others, keep the last).
    static func decode<Body: Decodable>(_ type: Body.Type, from buffer: ByteBuffer) throws -> Body {
        if JSONValue.refusal(of: buffer.readableBytesView) == .repeatedKey { throw repeatedKey }
        do {
            return try JSONDecoder().decode(Body.self, from: Data(buffer: buffer))
        } catch DecodingError.typeMismatch(_, let context) {
            let field = context.codingPath.first?.stringValue
            throw APIError.invalidParameter(field.map { "\($0) has the wrong type." } ?? "The body must be a JSON object.")
        } catch {
            throw APIError.invalidParameter("The body must be a JSON object.")
        }
    }

    static func content(_ payload: String?) throws -> MessageContent {
        guard let payload, let content = MessageContent.validatedText(payload) else {
            throw APIError.invalidParameter("payload must be a non-empty string of at most 32768 UTF-8 bytes.")
        }
        return content
    }
}
