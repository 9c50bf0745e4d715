import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RTMCore

/// Body of `POST …/rtm/message/history/query`.
struct HistoryQueryBody: Decodable {
    struct Filter: Decodable {
        var source: String?
        var destination: String?
        var start_time: String?
        var end_time: String?
    }
    var filter: Filter?
    var offset: Int?
    var limit: Int?
    var order: String?
}

extension RESTAPI {
    func registerHistory<Context: RequestContext>(on httpRouter: Hummingbird.Router<Context>) {
        let base = "/dev/v2/project/:appid/rtm/message/history"
        httpRouter.post("\(base)/query") { request, context in
            await self.respond(route: "history_query", request: request, context: context) { requestID in
                try await self.createHistoryQuery(request: request, context: context, requestID: requestID)
            }
        }
        httpRouter.get("\(base)/query/:handle") { request, context in
            await self.respond(route: "history_result", request: request, context: context) { requestID in
                try await self.historyResult(request: request, context: context, requestID: requestID)
            }
        }
        httpRouter.get("\(base)/count") { request, context in
            await self.respond(route: "history_count", request: request, context: context) { requestID in
                try await self.historyCount(request: request, context: context, requestID: requestID)
            }
        }
    }

    /// Authenticates and applies the history rate limit; returns the app and the user whose own
    /// messages alone the caller may read (`nil`: the whole app; see ``RESTTokenScope``).
    private func admitHistory(request: Request, context: some RequestContext) async throws -> (AppRecord, participant: String?) {
        let (app, principal) = try await authenticate(request: request, context: context)
        try Self.check(historyLimiter.acquire(app.appID, limit: .perSecond(configuration.historyRateLimit)))
        return (app, principal.historyParticipant(in: app))
    }

    /// `POST …/query`: validates the filter and returns a single-use `location`.
    func createHistoryQuery(request: Request, context: some RequestContext, requestID: String) async throws -> Response {
        let (app, participant) = try await admitHistory(request: request, context: context)
        let body = try Self.decode(HistoryQueryBody.self, from: try await readBody(request))
        guard let filterBody = body.filter else { throw APIError.invalidParameter("filter is required.") }
        var filter = try Self.filter(source: filterBody.source, destination: filterBody.destination,
                                     start: filterBody.start_time, end: filterBody.end_time)
        filter.participant = participant
        let limit = body.limit ?? 20
        guard [20, 50, 100].contains(limit) else { throw APIError.invalidParameter("limit must be 20, 50 or 100.") }
        let offset = body.offset ?? 0
        guard offset >= 0 else { throw APIError.invalidParameter("offset must not be negative.") }
        let order = body.order ?? "asc"
        guard order == "asc" || order == "desc" else { throw APIError.invalidParameter("order must be asc or desc.") }
        let handle = try await historyHandles.make(HistoryQuery(appID: app.appID, filter: filter, ascending: order == "asc",
                                                      offset: offset, limit: limit))
        return RESTResponse.success(requestID: requestID, fields: [
            "offset": offset, "limit": limit, "order": order, "location": "~/rtm/message/history/query/\(handle)",
        ])
    }

    /// `GET …/query/<handle>`: runs the prepared query once; 410 for unknown, used or expired handles,
    /// and for a handle made with a wider view than the caller's (a token limited to its user's messages
    /// cannot run a query its user did not make).
    func historyResult(request: Request, context: some RequestContext, requestID: String) async throws -> Response {
        let (app, participant) = try await admitHistory(request: request, context: context)
        let handle = (context.parameters.get("handle") ?? "").removingPercentEncoding ?? ""
        guard let query = try await historyHandles.take(handle, for: app.appID),
              participant == nil || query.filter.participant == participant else { throw APIError.gone }
        let records = try await messages.stores.history.query(query.filter, in: app.appID, ascending: query.ascending,
                                                               offset: query.offset, limit: query.limit)
        let list: [[String: Any]] = records.map { record in
            ["src": record.source, "dst": record.destination, "message_type": record.kind.rawValue, "payload": record.payload,
             "ms": record.timestamp]
        }
        return RESTResponse.success(requestID: requestID, fields: ["code": "ok", "messages": list])
    }

    /// `GET …/count?source=&destination=&start_time=&end_time=` (one pair of surrounding quotes is stripped).
    /// Hummingbird's `queryParameters` has percent-decoded the values once already: they are not
    /// decoded again (`%2541` means `%41`, not `A`).
    func historyCount(request: Request, context: some RequestContext, requestID: String) async throws -> Response {
        let (app, participant) = try await admitHistory(request: request, context: context)
        let query = request.uri.queryParameters
        func value(_ name: String) -> String? {
            guard var text = query[Substring(name)].map(String.init) else { return nil }
            if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
            return text
        }
        var filter = try Self.filter(source: value("source"), destination: value("destination"),
                                     start: value("start_time"), end: value("end_time"))
        filter.participant = participant
        let count = try await messages.stores.history.count(filter, in: app.appID)
        return RESTResponse.success(requestID: requestID, fields: ["code": "ok", "count": count])
    }

    /// Validates ids and times (`agora-rtm-rest.md` §7.1): one of source/destination, ISO 8601 UTC times.
    static func filter(source: String?, destination: String?, start: String?, end: String?) throws -> HistoryFilter {
        let source = source.flatMap { $0.isEmpty ? nil : $0 }
        let destination = destination.flatMap { $0.isEmpty ? nil : $0 }
        guard source != nil || destination != nil else {
            throw APIError.invalidParameter("filter.source and filter.destination must not both be empty.")
        }
        for id in [source, destination].compactMap({ $0 }) where !RTMName.isValid(id) {
            throw APIError.invalidParameter("source and destination must be valid user ids or channel names.")
        }
        guard let startText = start, let startTime = parseTime(startText), let endText = end, let endTime = parseTime(endText) else {
            throw APIError.invalidParameter("start_time and end_time are required, as UTC ISO 8601 like 2019-08-01T01:24:10Z.")
        }
        guard startTime <= endTime else { throw APIError.invalidParameter("start_time must not be after end_time.") }
        return HistoryFilter(source: source, destination: destination, start: startTime, end: endTime + 999)
    }

    /// `yyyy-mm-ddThh:mm:ssZ` → ms since the epoch (the whole second is included at the end).
    static func parseTime(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        guard text.hasSuffix("Z"), text.utf8.count == 20, let date = formatter.date(from: text) else { return nil }
        return Int64(date.timeIntervalSince1970) * 1000
    }
}
