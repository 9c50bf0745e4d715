import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Calls the Agora-compatible REST API as a backend does.
public struct RTMRestClient: Sendable {
    /// How a call authenticates.
    public enum Credentials: Sendable {
        /// HTTP Basic with a customer id and secret: may send as any user.
        case basic(customerID: String, secret: String)
        /// An RTM token (`x-agora-token` + `x-agora-uid`): may send only as that user.
        case token(token: String, userID: String)
    }

    /// The server's answer: HTTP status and the JSON body's fields.
    public struct Response: Sendable {
        public var status: Int
        public var body: [String: String]
        /// `code` of the body (`message_sent`, `message_delivered`, `message_offline`, or an error reason).
        public var code: String? { body["code"] }
    }

    public let baseURL: String
    public let appID: String
    public let credentials: Credentials
    let httpClient: HTTPClient

    /// - Parameter baseURL: the server root, e.g. `http://127.0.0.1:8080`.
    public init(baseURL: String, appID: String, credentials: Credentials, httpClient: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.appID = appID
        self.credentials = credentials
        self.httpClient = httpClient
    }

    /// `POST …/rtm/users/<from>/peer_messages?wait_for_ack=`.
    public func sendPeerMessage(from: String, to destination: String, payload: String, waitForAck: Bool = false,
                                enableOfflineMessaging: Bool = false, enableHistoricalMessaging: Bool = false) async throws -> Response {
        let body: [String: Any] = ["destination": destination, "payload": payload,
                                   "enable_offline_messaging": enableOfflineMessaging,
                                   "enable_historical_messaging": enableHistoricalMessaging]
        return try await post(path: "rtm/users/\(Self.escape(from))/peer_messages?wait_for_ack=\(waitForAck)", body: body)
    }

    /// `POST …/rtm/users/<from>/channel_messages`.
    public func sendChannelMessage(from: String, channel: String, payload: String,
                                   enableHistoricalMessaging: Bool = false) async throws -> Response {
        let body: [String: Any] = ["channel_name": channel, "payload": payload,
                                   "enable_historical_messaging": enableHistoricalMessaging]
        return try await post(path: "rtm/users/\(Self.escape(from))/channel_messages", body: body)
    }

    static func escape(_ segment: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    private func post(path: String, body: [String: Any]) async throws -> Response {
        var request = HTTPClientRequest(url: "\(baseURL)/dev/v2/project/\(appID)/\(path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json;charset=utf-8")
        switch credentials {
        case .basic(let customerID, let secret):
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(customerID):\(secret)".utf8).base64EncodedString())
        case .token(let token, let userID):
            request.headers.add(name: "x-agora-token", value: token)
            request.headers.add(name: "x-agora-uid", value: userID)
        }
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response = try await httpClient.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return Response(status: Int(response.status.code), body: object.compactMapValues { $0 as? String })
    }
}
