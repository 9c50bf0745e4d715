import AgoraToken
import Foundation
import Metrics
import NIOCore
import NIOHTTP1
import RTMCore
import RTMProtocol
import Synchronization

/// The event-loop path of the two send routes (see ``RESTFastPath``): a send that needs nothing but
/// memory is answered without leaving the socket's event loop. It gives the same answer the regular
/// route would; whatever it cannot decide from memory goes to the regular route untouched.
extension RESTAPI {
    /// A send route, recognised from the request line alone.
    struct FastRoute {
        enum Kind { case peer, channel }
        let kind: Kind
        let appID: String
        let userID: String
    }

    /// The answer to a send taken on the fast path.
    struct FastAnswer {
        let requestID: String
        let code: StaticString
        /// Deliveries the send queued to sockets (written by their loops' drain tasks).
        let queuedDeliveries: Int
    }

    /// `POST /dev/v2/project/<appid>/rtm/users/<user_id>/(peer|channel)_messages` over HTTP/1.1, kept
    /// alive, without `Expect`, whose query asks nothing of the fast path (no `wait_for_ack` other
    /// than false). Percent-encoded paths (and anything unusual) are left to the router, which decodes them.
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
        let kind: FastRoute.Kind
        if expect("peer_messages") {
            kind = .peer
        } else if expect("channel_messages") {
            kind = .channel
        } else {
            return nil
        }
        if cursor < uri.count {
            guard uri[cursor] == UInt8(ascii: "?"),
                  queryAllowsFastPath(UnsafeBufferPointer(rebasing: uri[(cursor + 1)...])) else { return nil }
        }
        return FastRoute(kind: kind, appID: appID, userID: userID)
    }

    /// A query the fast path may ignore: no `wait_for_ack` but false/0, nothing percent- or plus-encoded.
    private static func queryAllowsFastPath(_ query: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !query.contains(UInt8(ascii: "%")), !query.contains(UInt8(ascii: "+")) else { return false }
        for parameter in query.split(separator: UInt8(ascii: "&")) {
            let pair = parameter.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard pair[0].elementsEqual("wait_for_ack".utf8) else { continue }
            let value = pair.count > 1 ? String(decoding: pair[1], as: UTF8.self).lowercased() : ""
            guard value == "false" || value == "0" else { return false }
        }
        return true
    }

    /// Sends from memory when every check can be made there and passes; `nil` hands the request to the
    /// regular route (unknown or uncached app or credential, a refused check, a body that is not the
    /// plain case, storage asked for, the rate limit reached).
    func fastSend(_ route: FastRoute, head: HTTPRequestHead, body: ByteBuffer, verified: inout ConnectionVerifiedBasic?) -> FastAnswer? {
        guard let appID = AppID(route.appID), case .some(let app?) = apps.cachedApp(appID),
              let principal = fastPrincipal(head.headers, app: app, connection: &verified),
              let from = try? Self.sender(route.userID, principal: principal) else { return nil }
        guard let fields = JSONValue.parse(body.readableBytesView)?.objectValue,
              case .string(let payload)? = fields["payload"], let content = MessageContent.validatedText(payload),
              Self.isAbsentOrFalse(fields["enable_historical_messaging"]) else { return nil }
        switch route.kind {
        case .peer:
            guard case .string(let to)? = fields["destination"], let destination = UserID(to),
                  Self.isAbsentOrFalse(fields["enable_offline_messaging"]) else { return nil }
            guard takeMessagingToken(app).isAllowed else { return nil }   // the regular route answers 429
            let dispatch = router.sendPeer(PeerMessage(appID: app.appID, from: from, to: destination, content: content), wantAck: false)
            let delivered = if case .handedOff = dispatch { true } else { false }
            fastMetrics.answered(peer: true)
            return FastAnswer(requestID: requestIDs.next(), code: delivered ? "message_sent" : "message_offline",
                              queuedDeliveries: delivered ? 1 : 0)
        case .channel:
            guard case .string(let name)? = fields["channel_name"], let channel = ChannelName(name) else { return nil }
            guard takeMessagingToken(app).isAllowed else { return nil }
            let sent = router.sendChannel(app: app.appID, channel: channel, from: from, content: content)
            fastMetrics.answered(peer: false)
            return FastAnswer(requestID: requestIDs.next(), code: "message_sent", queuedDeliveries: sent.receivers)
        }
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

    private static func isAbsentOrFalse(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?, .bool(false)?: true
        default: false
        }
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
    public var fastPathAnswerCount: Int { fastMetrics.count.load(ordering: .relaxed) }
}
