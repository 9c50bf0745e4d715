import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Metrics
import RTMCore

/// Builds the JSON responses of the REST API; every response carries `X-Request-ID`.
enum RESTResponse {
    static let requestIDHeader = HTTPField.Name("X-Request-ID")!

    /// `{"code":…,"request_id":…,"result":"success"}`, written directly (the hot path of every send).
    static func success(requestID: String, code: StaticString) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(successBodyLength(code: code, requestID: requestID))
        writeSuccessBody(code: code, requestID: requestID, to: &buffer)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[requestIDHeader] = requestID
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: buffer))
    }

    /// Writes a send's success body; the REST fast path writes the same bytes.
    static func writeSuccessBody(code: StaticString, requestID: String, to buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"code\":\"")
        buffer.writeStaticString(code)  // one of a few fixed ASCII codes
        buffer.writeStaticString("\",\"request_id\":\"")
        buffer.writeString(requestID)  // hex and digits
        buffer.writeStaticString("\",\"result\":\"success\"}")
    }

    /// The length of ``writeSuccessBody(code:requestID:to:)``'s bytes: 46 besides the code and the id.
    static func successBodyLength(code: StaticString, requestID: String) -> Int {
        46 + code.utf8CodeUnitCount + requestID.utf8.count
    }

    static func failure(_ error: APIError, requestID: String) -> Response {
        var response = json(error.status, requestID: requestID,
                            ["result": "failed", "request_id": requestID, "code": error.code, "message": error.message])
        if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(max(1, retryAfter)) }
        return response
    }

    /// A success body with any JSON-compatible fields (numbers, arrays, objects) besides `result` and `request_id`.
    static func success(requestID: String, fields: [String: Any]) -> Response {
        var object = fields
        object["result"] = "success"
        object["request_id"] = requestID
        return json(.ok, requestID: requestID, object)
    }

    static func json(_ status: HTTPResponse.Status, requestID: String, _ fields: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[requestIDHeader] = requestID
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The REST counters, made once per route and status rather than per request.
final class RESTMetrics: Sendable {
    static let shared = RESTMetrics()
    private let requests = Mutex<[String: Counter]>([:])
    private let limited = Mutex<[String: Counter]>([:])

    func requests(route: String, status: Int) -> Counter {
        requests.withLock { counters in
            let key = "\(route) \(status)"
            if let counter = counters[key] { return counter }
            let counter = Counter(label: "rtm_rest_requests_total", dimensions: [("route", route), ("status", String(status))])
            counters[key] = counter
            return counter
        }
    }

    func rateLimited(route: String) -> Counter {
        limited.withLock { counters in
            if let counter = counters[route] { return counter }
            let counter = Counter(label: "rtm_rest_rate_limited_total", dimensions: [("route", route)])
            counters[route] = counter
            return counter
        }
    }
}

/// Unique request ids: a per-process random prefix and a counter.
final class RequestIDGenerator: Sendable {
    private let prefix = String(UInt64.random(in: 0..<(1 << 48)), radix: 16)
    private let counter = AtomicCounter()

    func next() -> String { "\(prefix)-\(counter.next())" }
}

import Synchronization

final class AtomicCounter: Sendable {
    private let value = Atomic<UInt64>(0)
    func next() -> UInt64 { value.wrappingAdd(1, ordering: .relaxed).newValue }
}
