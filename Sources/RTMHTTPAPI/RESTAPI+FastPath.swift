import AgoraToken
import Foundation
import Metrics
import NIOCore
import NIOHTTP1
import RTMCore
import RTMProtocol
import Synchronization

/// The event-loop path of the two send routes (see ``RESTFastPath``): a send that needs nothing but
/// memory is answered without leaving the socket's event loop. The rules are the regular route's
/// (``SendCommand``, ``deliverFromMemory(_:app:)``); the fast path only decides where the code runs.
/// Whatever it cannot decide from memory, and every refusal, goes to the regular route untouched.
extension RESTAPI {
    /// A send route, recognised from the request line alone.
    struct FastRoute {
        let kind: SendCommand.Route
        let appID: String
        /// The path's `user_id` segment (no percent-encoding: the fast path declines it).
        let userID: String
        /// The query's `wait_for_ack`, if given (once, not encoded).
        let waitForAck: String?
    }

    /// The answer to a send taken on the fast path.
    struct FastAnswer {
        let requestID: String
        let code: StaticString
        /// Deliveries the send queued to sockets (written by their loops' drain tasks).
        let queuedDeliveries: Int
    }

    /// `POST /dev/v2/project/<appid>/rtm/users/<user_id>/(peer|channel)_messages` over HTTP/1.1, kept
    /// alive, without `Expect`. Percent- or plus-encoded paths and queries, and a repeated
    /// `wait_for_ack` (anything unusual), are left to the router, which decodes them.
    func fastRoute(for head: HTTPRequestHead) -> FastRoute? {
        guard head.method == .POST, head.version == .http1_1, head.isKeepAlive,
              !head.headers.contains(name: "expect") else { return nil }
        var uri = head.uri
        return uri.withUTF8 { Self.parseSendPath($0) }
    }

    /// Reads the send path in one pass over its bytes, without splitting it.
    private static func parseSendPath(_ uri: UnsafeBufferPointer<UInt8>) -> FastRoute? {
        var cursor = 0
        func expect(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard uri.count - cursor >= count, memcmp(uri.baseAddress! + cursor, literal.utf8Start, count) == 0 else { return false }
            cursor += count
            return true
        }
        /// The bytes up to the next `/` (not empty, no `%`), then past it.
        func segment() -> String? {
            let start = cursor
            while cursor < uri.count, uri[cursor] != UInt8(ascii: "/") {
                guard uri[cursor] != UInt8(ascii: "%"), uri[cursor] != UInt8(ascii: "?") else { return nil }
                cursor += 1
            }
            guard cursor > start, cursor < uri.count else { return nil }
            defer { cursor += 1 }
            return String(decoding: UnsafeBufferPointer(rebasing: uri[start..<cursor]), as: UTF8.self)
        }
        guard uri.count > 0, expect("/dev/v2/project/"), let appID = segment(), expect("rtm/users/"), let userID = segment() else {
            return nil
        }
        let kind: SendCommand.Route
        if expect("peer_messages") {
            kind = .peer
        } else if expect("channel_messages") {
            kind = .channel
        } else {
            return nil
        }
        var waitForAck: String?
        if cursor < uri.count {
            guard uri[cursor] == UInt8(ascii: "?"),
                  let query = PlainQuery(UnsafeBufferPointer(rebasing: uri[(cursor + 1)...])) else { return nil }
            waitForAck = query.waitForAck
        }
        return FastRoute(kind: kind, appID: appID, userID: userID, waitForAck: waitForAck)
    }

    /// A query the fast path reads itself: nothing percent- or plus-encoded, `wait_for_ack` at most
    /// once. Any other is left to the router's query decoding.
    private struct PlainQuery {
        /// Its `wait_for_ack`, if given.
        var waitForAck: String?

        init?(_ query: UnsafeBufferPointer<UInt8>) {
            guard !query.contains(UInt8(ascii: "%")), !query.contains(UInt8(ascii: "+")) else { return nil }
            for parameter in query.split(separator: UInt8(ascii: "&")) {
                let pair = parameter.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
                guard pair[0].elementsEqual("wait_for_ack".utf8) else { continue }
                guard waitForAck == nil else { return nil }
                waitForAck = pair.count > 1 ? String(decoding: pair[1], as: UTF8.self) : ""
            }
        }
    }

    /// Sends from memory when the request is decoded without refusal, needs nothing but memory, and its
    /// app, credential and rate limit are decided there; `nil` hands the request to the regular route
    /// (unknown or uncached app or credential, a refusal, storage or an ack asked for, the rate limit
    /// reached), which answers it by the same rules.
    func fastSend(_ route: FastRoute, head: HTTPRequestHead, body: ByteBuffer, verified: inout ConnectionVerifiedBasic?) -> FastAnswer? {
        guard let appID = AppID(route.appID), case .some(let app?) = apps.cachedApp(appID),
              let principal = fastPrincipal(head.headers, app: app, connection: &verified),
              case .success(let command) = SendCommand.decode(route.kind, userID: route.userID, waitForAck: route.waitForAck,
                                                              body: body.readableBytesView, principal: principal),
              command.isMemoryOnly,
              takeMessagingTokenFromMemory(app)   // else the regular route waits for a token or answers 429
        else { return nil }
        let sent = deliverFromMemory(command, app: app.appID)
        fastMetrics.answered(peer: route.kind == .peer)
        return FastAnswer(requestID: requestIDs.next(), code: sent.code, queuedDeliveries: sent.queuedDeliveries)
    }

    /// What one connection last verified: its Basic header for an app, while the directory is unchanged.
    /// Backends send the same header on every call of a kept-alive connection (the fast path takes
    /// only kept-alive ones); then no base64 decoding and no secret hashing is needed (those were a
    /// third of a send's CPU), the header being compared in constant time.
    struct ConnectionVerifiedBasic {
        let authorization: String
        let appID: AppID
        let generation: UInt64
    }

    /// Who the request is from, decided from memory: the Basic header this connection verified last,
    /// else the full check against the cached credential or the token.
    private func fastPrincipal(_ headers: HTTPHeaders, app: AppRecord, connection: inout ConnectionVerifiedBasic?) -> RESTPrincipal? {
        let authorization = headers.first(name: "authorization")
        let generation = apps.generation
        if let authorization, let last = connection, last.generation == generation, last.appID == app.appID,
           Signing.constantTimeEquals(last.authorization, authorization) {
            return .customer
        }
        guard let presented = RESTAuthenticator.presented(authorization: authorization, token: headers.first(name: "x-agora-token"),
                                                          uid: headers.first(name: "x-agora-uid")),
              let principal = authenticator.authenticateFromCache(presented, app: app) else { return nil }
        if let authorization, case .basic = presented {
            connection = ConnectionVerifiedBasic(authorization: authorization, appID: app.appID, generation: generation)
        }
        return principal
    }
}

/// The fast path's counters, made once (the regular route makes them per route and status).
final class FastPathMetrics: Sendable {
    let peerOK = RESTMetrics.shared.requests(route: "peer_messages", status: 200)
    let channelOK = RESTMetrics.shared.requests(route: "channel_messages", status: 200)
    /// Also exported as `rtm_rest_fast_path_total`.
    let fastPath = Counter(label: "rtm_rest_fast_path_total")
    let count = Atomic<Int>(0)

    func answered(peer: Bool) {
        (peer ? peerOK : channelOK).increment()
        fastPath.increment()
        count.add(1, ordering: .relaxed)
    }
}

extension RESTAPI {
    /// Sends this API answered on the event loop since it was made.
    package var fastPathAnswerCount: Int { fastMetrics.count.load(ordering: .relaxed) }
}
