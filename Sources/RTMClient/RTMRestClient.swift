import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Calls the Agora-compatible REST API as a backend does, failing over across base URLs.
///
/// Each call tries the first base URL, then the same one once more, then the next URL (twice), and
/// so on, waiting between attempts (1 s, 3 s, 6 s by default; the last repeats). It retries only on
/// network errors, 5xx and 408, never on other 4xx; a 429 is retried after its `Retry-After`.
public struct RTMRestClient: Sendable {
    /// How a call authenticates.
    public enum Credentials: Sendable {
        /// HTTP Basic with a customer id and secret: may send as any user.
        case basic(customerID: String, secret: String)
        /// An RTM token (`x-agora-token` + `x-agora-uid`): may send only as that user.
        case token(token: String, userID: String)
    }

    /// Retry timing.
    public struct RetryPolicy: Sendable {
        /// Waits before the 2nd, 3rd, … attempt; the last repeats.
        public var delays: [Duration] = [.seconds(1), .seconds(3), .seconds(6)]
        /// Attempts on each base URL before moving to the next.
        public var attemptsPerURL = 2
        /// Longest `Retry-After` honoured.
        public var maximumRetryAfter: Duration = .seconds(60)
        /// Timeout of one HTTP attempt (a `wait_for_ack` call may take 10 s).
        public var requestTimeout: Duration = .seconds(15)

        public init() {}
    }

    /// The server's answer to a successful call.
    public enum Outcome: String, Sendable, Equatable {
        case messageSent = "message_sent"
        case messageDelivered = "message_delivered"
        case messageOffline = "message_offline"
    }

    /// Why a call failed.
    public enum Failure: Error, Sendable, Equatable {
        /// The server refused the call (4xx other than 408/429, or every retry ran out on 5xx/408/429).
        case rejected(status: Int, code: String, message: String)
        /// No base URL could be reached.
        case unreachable(attempts: Int)
    }

    public let baseURLs: [String]
    public let appID: String
    public let credentials: Credentials
    public let retryPolicy: RetryPolicy
    let sleeper: any RTMSleeper
    let httpClient: HTTPClient
    /// Called before each attempt with its base URL (for logs and tests).
    let onAttempt: @Sendable (String) -> Void

    /// - Parameters:
    ///   - baseURLs: server roots in order of preference, e.g. `["http://a:8080", "http://b:8080"]`.
    ///   - appID: the app the calls are for.
    ///   - credentials: Basic or token authentication.
    ///   - retryPolicy: waits and attempts per URL.
    ///   - sleeper: how waits happen (inject one to drive retries in tests).
    ///   - httpClient: the HTTP client; the default fails fast on refused connections.
    ///   - onAttempt: called with the base URL before each attempt.
    public init(baseURLs: [String], appID: String, credentials: Credentials, retryPolicy: RetryPolicy = RetryPolicy(),
                sleeper: any RTMSleeper = TaskSleeper(), httpClient: HTTPClient = RTMRestClient.failFastHTTPClient,
                onAttempt: @escaping @Sendable (String) -> Void = { _ in }) {
        precondition(!baseURLs.isEmpty, "at least one base URL")
        self.baseURLs = baseURLs.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.appID = appID
        self.credentials = credentials
        self.retryPolicy = retryPolicy
        self.sleeper = sleeper
        self.httpClient = httpClient
        self.onAttempt = onAttempt
    }

    /// `POST …/rtm/users/<from>/peer_messages?wait_for_ack=`.
    /// - Returns: sent, delivered (the receiver acked; only with `waitForAck`) or offline.
    /// - Throws: ``Failure``.
    public func sendPeerMessage(from: String, to destination: String, payload: String, waitForAck: Bool = false,
                                enableOfflineMessaging: Bool = false, enableHistoricalMessaging: Bool = false) async throws(Failure) -> Outcome {
        let body: [String: Any] = ["destination": destination, "payload": payload,
                                   "enable_offline_messaging": enableOfflineMessaging,
                                   "enable_historical_messaging": enableHistoricalMessaging]
        return try await call(path: "rtm/users/\(Self.escape(from))/peer_messages?wait_for_ack=\(waitForAck)", body: body)
    }

    /// `POST …/rtm/users/<from>/channel_messages`. - Throws: ``Failure``.
    public func sendChannelMessage(from: String, channel: String, payload: String,
                                   enableHistoricalMessaging: Bool = false) async throws(Failure) -> Outcome {
        let body: [String: Any] = ["channel_name": channel, "payload": payload,
                                   "enable_historical_messaging": enableHistoricalMessaging]
        return try await call(path: "rtm/users/\(Self.escape(from))/channel_messages", body: body)
    }

    /// A shared HTTP client that reports a refused connection at once instead of retrying it until the
    /// request deadline, so failover moves on quickly.
    public static let failFastHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    static func escape(_ segment: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    private func call(path: String, body: [String: Any]) async throws(Failure) -> Outcome {
        let bytes = (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
        let order = baseURLs.flatMap { Array(repeating: $0, count: max(1, retryPolicy.attemptsPerURL)) }
        var lastFailure = Failure.unreachable(attempts: 0)
        var retryAfter: Duration?
        for (index, baseURL) in order.enumerated() {
            if index > 0 {
                let delay: Duration
                if case .rejected(429, _, _) = lastFailure, let retryAfter {
                    delay = min(retryAfter, retryPolicy.maximumRetryAfter)
                } else {
                    delay = retryPolicy.delays.isEmpty ? .zero : retryPolicy.delays[min(index - 1, retryPolicy.delays.count - 1)]
                }
                do { try await sleeper.sleep(for: delay) } catch { throw lastFailure }
            }
            onAttempt(baseURL)
            switch await attempt(url: "\(baseURL)/dev/v2/project/\(appID)/\(path)", body: bytes) {
            case .success(let outcome):
                return outcome
            case .failure(let attempted):
                let failure = attempted.failure
                if case .rejected(let status, _, _) = failure, status != 408, status != 429, status < 500 { throw failure }
                if case .unreachable = failure { lastFailure = .unreachable(attempts: index + 1) } else { lastFailure = failure }
                retryAfter = attempted.retryAfter
            }
        }
        throw lastFailure
    }

    struct AttemptFailure: Error {
        var failure: Failure
        var retryAfter: Duration?
    }

    private func attempt(url: String, body: Data) async -> Result<Outcome, AttemptFailure> {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json;charset=utf-8")
        switch credentials {
        case .basic(let customerID, let secret):
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(customerID):\(secret)".utf8).base64EncodedString())
        case .token(let token, let userID):
            request.headers.add(name: "x-agora-token", value: token)
            request.headers.add(name: "x-agora-uid", value: userID)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let timeout = TimeAmount.milliseconds(retryPolicy.requestTimeout.components.seconds * 1000)
            let response = try await httpClient.execute(request, timeout: timeout)
            let bytes = try await response.body.collect(upTo: 1 << 20)
            let object = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
            let code = object["code"] as? String ?? ""
            if response.status == .ok, let outcome = Outcome(rawValue: code) { return .success(outcome) }
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds(max(1, $0)) }
            return .failure(AttemptFailure(failure: .rejected(status: Int(response.status.code), code: code,
                                                              message: object["message"] as? String ?? ""), retryAfter: retryAfter))
        } catch {
            return .failure(AttemptFailure(failure: .unreachable(attempts: 1)))
        }
    }
}

