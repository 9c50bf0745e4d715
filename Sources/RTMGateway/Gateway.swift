import AgoraToken
import Logging
import Metrics
import NIOCore
import NIOWebSocket
import RTMCore
import Synchronization

/// The WebSocket side of the server: one ``GatewayConnection`` per socket at `GET /v1/ws`, run by a
/// ``GatewayFrameHandler`` at the end of the socket's NIO pipeline.
package final class Gateway: Sendable {
    /// How the gateway reaches sessions (see ``Broker``).
    package let broker: any Broker
    package let messages: MessageService
    package let apps: AppDirectory
    package let configuration: GatewayConfiguration
    let logger: Logger
    let metrics = GatewayMetrics()
    let sharedLimits: SessionRateLimits.SharedLimits
    let sessionIDs = SessionIDGenerator()
    /// Live sessions by id, for `resume`; a session leaves the table when it ends or expires.
    let sessions = Mutex<[String: RouterSession]>([:])
    /// One pinger and one drainer per event loop.
    private let pingers = Mutex<[ObjectIdentifier: LoopPinger]>([:])
    private let drainers = Mutex<[ObjectIdentifier: LoopDrainer]>([:])

    package init(messages: MessageService, apps: AppDirectory, configuration: GatewayConfiguration = GatewayConfiguration(),
                logger: Logger = Logger(label: "rtm.gateway")) {
        self.messages = messages
        self.broker = messages.broker
        self.apps = apps
        self.configuration = configuration
        self.sharedLimits = SessionRateLimits.SharedLimits(configuration.limits)
        self.logger = logger
        GatewayMetrics.recordLimits(configuration)
    }

    var clock: any RTMClock { broker.clock }

    func register(_ session: RouterSession) {
        sessions.withLock { $0[session.sessionID] = session }
    }

    func forget(sessionID: String) {
        _ = sessions.withLock { $0.removeValue(forKey: sessionID) }
    }

    func lookup(sessionID: String) -> RouterSession? {
        sessions.withLock { $0[sessionID] }
    }

    /// The client of `routerSession` acknowledged `messageID`, with an `ack` or by resuming past it:
    /// its sender's wait ends, and a copy kept in the offline store is deleted.
    func acknowledge(_ messageID: String, from routerSession: RouterSession) {
        broker.ack(messageID: messageID, from: routerSession)
        messages.acknowledged(messageID, by: routerSession)
    }

    /// Closes `user`'s socket at the TCP level, with no WebSocket close, as a network failure would.
    /// The session stays resumable for the grace period. For operations and tests.
    @discardableResult
    package func dropSocket(of user: UserID, in app: AppID) -> Bool {
        guard let connection = attachedConnection(of: user, in: app) else { return false }
        connection.channel.close(promise: nil)
        return true
    }

    /// Whether `user` has a session with a socket attached right now (not in its grace period).
    package func hasSocket(of user: UserID, in app: AppID) -> Bool {
        attachedConnection(of: user, in: app) != nil
    }

    /// The socket `user`'s session is attached to, if any.
    private func attachedConnection(of user: UserID, in app: AppID) -> GatewayConnection? {
        let session = sessions.withLock { $0.values.first { $0.userID == user && $0.appID == app } }
        return (session?.sink as? GatewaySession)?.state.withLock { $0.attached }
    }

    /// Sessions that can still be resumed (connected or within their grace period).
    package var liveSessionCount: Int { sessions.withLock { $0.count } }

    /// The path clients connect to.
    package static let path = "/v1/ws"

    /// The handler that runs an upgraded socket: add it last, after NIO's WebSocket frame decoder
    /// (with NIO's automatic error handling off: the handler answers framing errors itself).
    package func makeFrameHandler(logger: Logger) -> any ChannelHandler {
        GatewayFrameHandler(gateway: self, logger: logger)
    }

    /// The drainer of `eventLoop`'s sockets, made on first use.
    func drainer(for eventLoop: any EventLoop) -> LoopDrainer {
        Self.perLoop(eventLoop, in: drainers) { LoopDrainer(eventLoop: eventLoop) }
    }

    /// The pinger of `eventLoop`'s sockets, made on first use.
    func pinger(for eventLoop: any EventLoop) -> LoopPinger {
        Self.perLoop(eventLoop, in: pingers) { LoopPinger(eventLoop: eventLoop, interval: configuration.pingInterval) }
    }

    /// Runs one ping round on every event loop now, as the loops' timers do every ping interval, and
    /// returns how many sockets it closed for not answering the previous round. For tests, which
    /// then need no timing: round one pings, round two closes the sockets that stayed silent.
    func runPingRound() async throws -> Int {
        try await sumOverPingers { $0.tick() }
    }

    /// How many sockets have not answered their last ping, over every event loop. For tests.
    func unansweredPingCount() async throws -> Int {
        try await sumOverPingers { $0.unansweredCount }
    }

    /// The most bytes any socket has waiting to be written (its outbound queue, the pong it holds,
    /// and what NIO buffered for the kernel), over every event loop. For tests.
    func largestOutboundBacklog() async throws -> Int {
        try await overPingers { $0.largestOutboundBacklog }.max() ?? 0
    }

    /// Sockets open on the gateway, over every event loop. For tests.
    func socketCount() async throws -> Int {
        try await sumOverPingers { $0.socketCount }
    }

    /// `count` run on each pinger's own loop, added up.
    private func sumOverPingers(_ count: @escaping @Sendable (LoopPinger) -> Int) async throws -> Int {
        try await overPingers(count).reduce(0, +)
    }

    /// `value` run on each pinger's own loop.
    private func overPingers(_ value: @escaping @Sendable (LoopPinger) -> Int) async throws -> [Int] {
        var values: [Int] = []
        for pinger in pingers.withLock({ Array($0.values) }) {
            values.append(try await pinger.eventLoop.submit { value(pinger) }.get())
        }
        return values
    }

    /// `eventLoop`'s entry of a per-loop table, made by `make` the first time.
    private static func perLoop<Value>(_ eventLoop: any EventLoop, in table: borrowing Mutex<[ObjectIdentifier: Value]>,
                                       make: () -> Value) -> Value {
        table.withLock { table in
            if let value = table[ObjectIdentifier(eventLoop)] { return value }
            let value = make()
            table[ObjectIdentifier(eventLoop)] = value
            return value
        }
    }
}

struct GatewayMetrics: Sendable {
    let connections = Counter(label: "rtm_ws_connections_total")
    let openConnections = Meter(label: "rtm_ws_connections_open")
    let loginsOK = Counter(label: "rtm_logins_total", dimensions: [("result", "ok")])
    let loginsFailed = Counter(label: "rtm_logins_total", dimensions: [("result", "failed")])
    let slowConsumers = Counter(label: "rtm_ws_slow_consumer_closes_total")
    let protocolErrors = Counter(label: "rtm_ws_protocol_errors_total")
    let resumes = Counter(label: "rtm_resumes_total")
    /// Sessions of lost cluster nodes taken over by a `resume` here.
    let takeovers = Counter(label: "rtm_session_takeovers_total")
    /// Sockets closed for not answering a ping by the next one.
    let deadLinks = Counter(label: "rtm_ws_dead_link_closes_total")
    /// Sockets closed because their login deadline passed.
    let loginTimeouts = Counter(label: "rtm_ws_login_timeouts_total")
    /// Sessions ended because their unacknowledged peer messages passed the replay bound, the
    /// messages they gave up, and how many of those went to the offline store.
    let replayOverflows = Counter(label: "rtm_ws_replay_overflows_total")
    let replayGivenUp = Counter(label: "rtm_ws_replay_messages_given_up_total")
    let replayStoredOffline = Counter(label: "rtm_ws_replay_messages_stored_offline_total")
    /// Channel messages dropped from replay rings for the byte bound.
    let channelReplayDropped = Counter(label: "rtm_ws_channel_replay_dropped_total")
    /// Requests whose reading paused because the inbox reached its bound (in requests or bytes).
    let inboxPauses = Counter(label: "rtm_ws_inbox_pauses_total")

    /// Publishes the configured bounds as `rtm_ws_limit{limit=…}`, beside the counters of what passed them.
    static func recordLimits(_ configuration: GatewayConfiguration) {
        let limits: [(String, Int)] = [
            ("frame_bytes", configuration.maximumFrameBytes),
            ("outbound_queue_frames", configuration.maximumQueuedFrames),
            ("outbound_queue_bytes", configuration.maximumQueuedBytes),
            ("unacked_peer_messages", configuration.maximumUnackedPeerMessages),
            ("unacked_peer_bytes", configuration.maximumUnackedPeerBytes),
            ("channel_replay_messages", configuration.replayedChannelMessages),
            ("channel_replay_bytes", configuration.maximumReplayedChannelBytes),
            ("inbox_requests", Inbox.maximumRequests),
            ("inbox_bytes", configuration.maximumInboxBytes),
        ]
        for (name, value) in limits { Gauge(label: "rtm_ws_limit", dimensions: [("limit", name)]).record(value) }
    }
}

/// Opaque session ids: random, so one client cannot guess another's.
struct SessionIDGenerator: Sendable {
    func next() -> String {
        "s-" + (0..<2).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 36) }.joined(separator: "")
    }
}
