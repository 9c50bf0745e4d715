import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import RTMClient   // ServerFrame.maximumBytes, the largest frame the server sends
import Synchronization

/// A crowd of WebSocket subscribers that count what they receive and, if asked, how late it was.
/// Each subscriber is a NIO channel whose handler runs on the event loop (no task per socket), so
/// thousands of them cost the generator little.
final class Subscribers: Sendable {
    let delivered = Atomic<Int>(0)
    let ready = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let recordLatency: Bool
    private let latencies = Mutex<[UInt64]>([])
    private let channels = Mutex<[any Channel]>([])
    private let opener = Mutex<Task<Void, Never>?>(nil)

    /// Connections being opened at once (the rest wait), so a large crowd does not overflow the listen
    /// backlog (or, on a starved machine, the server's login deadline).
    let openingAtOnce: Int

    /// The server kind the subscribers talk to.
    let target: BenchTarget

    init(target: BenchTarget, recordLatency: Bool, openingAtOnce: Int = 256) {
        self.target = target
        self.recordLatency = recordLatency
        self.openingAtOnce = max(1, openingAtOnce)
    }

    /// Opens `count` subscribers of `channel` from 127.0.0.1 (this machine allows 20,000 open files per
    /// process, below what one source address can reach), subscriber `i` to `endpoints[i % n]`.
    /// With `loginOnly`, swift-rtm subscribers log in and join nothing.
    func start(count: Int, endpoints: [Endpoint], channel: String, credentials: BenchCredentials, userPrefix: String, loginOnly: Bool = false) {
        let target = self.target, openingAtOnce = self.openingAtOnce
        let path = target.subscribePath(channel: channel)
        let task = Task {
            for index in 0..<count {
                while index - ready.load(ordering: .relaxed) - failed.load(ordering: .relaxed) >= openingAtOnce {
                    try? await Task.sleep(for: .milliseconds(1))
                    if Task.isCancelled { return }
                }
                let handshake = target.subscribeHandshake(channel: loginOnly ? nil : channel, user: "\(userPrefix)\(index)",
                                                          credentials: credentials)
                open(endpoint: endpoints[index % endpoints.count], path: path, handshake: handshake)
            }
        }
        opener.withLock { $0 = task }
    }

    private func open(endpoint: Endpoint, path: String, handshake: [String]) {
        let crowd = self, target = self.target
        let connected = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: ServerFrame.maximumBytes) { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            SubscriberHandler(target: target, handshake: handshake, crowd: crowd))
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let request = UpgradeRequestHandler(host: "\(endpoint.host):\(endpoint.port)", path: path, crowd: crowd)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.removeHandler(name: UpgradeRequestHandler.name, promise: nil)
                        }))
                    try channel.pipeline.syncOperations.addHandler(request, name: UpgradeRequestHandler.name)
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
        connected.whenSuccess { channel in crowd.channels.withLock { $0.append(channel) } }
        connected.whenFailure { _ in crowd.failed.add(1, ordering: .relaxed) }
    }

    /// Waits until `count` are ready (or `limit` passes); returns how many are.
    func waitReady(_ count: Int, limit: Duration = .seconds(120)) async -> Int {
        let deadline = ContinuousClock.now + limit
        while ready.load(ordering: .relaxed) + failed.load(ordering: .relaxed) < count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return ready.load(ordering: .relaxed)
    }

    /// Waits until deliveries stop growing for `quiet`.
    func waitQuiet(_ quiet: Duration = .milliseconds(500), limit: Duration = .seconds(30)) async {
        let deadline = ContinuousClock.now + limit
        var last = -1
        while ContinuousClock.now < deadline {
            let now = delivered.load(ordering: .relaxed)
            if now == last { return }
            last = now
            try? await Task.sleep(for: quiet)
        }
    }

    func takeLatencies() -> [UInt64] { latencies.withLock { $0 } }

    func recordLatency(sentNanoseconds: UInt64) {
        let now = nowNanoseconds()
        latencies.withLock { $0.append(now > sentNanoseconds ? now - sentNanoseconds : 0) }
    }

    /// Ends every subscriber. swift-rtm sessions log out first (as an app closing normally does), so
    /// the server does not carry 30 s of disconnected sessions into the next scenario; a socket still
    /// open 5 s later is closed.
    func stop() async {
        let task = opener.withLock { $0 }
        task?.cancel()
        await task?.value
        let all = channels.withLock { $0 }
        let goodbye = target.goodbye
        for channel in all {
            if let goodbye {
                let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: goodbye))
                channel.writeAndFlush(frame, promise: nil)
                channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        }
        for channel in all { try? await channel.closeFuture.get() }
    }
}

/// Sends the HTTP upgrade request once connected; a reply that is not an upgrade counts as a failure.
final class UpgradeRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    static let name = "upgrade-request"

    private let host: String, path: String
    private let crowd: Subscribers

    init(host: String, path: String, crowd: Subscribers) {
        self.host = host; self.path = path; self.crowd = crowd
    }

    func channelActive(context: ChannelHandlerContext) {
        let headers = HTTPHeaders([("Host", host), ("Content-Length", "0")])
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            crowd.failed.add(1, ordering: .relaxed)
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        crowd.failed.add(1, ordering: .relaxed)
        context.close(promise: nil)
    }
}

/// One subscriber after the upgrade: sends the handshake (swift-rtm: login, join), then counts messages.
final class SubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let target: BenchTarget
    private let handshake: [String]
    private let crowd: Subscribers
    private var joined: Bool

    init(target: BenchTarget, handshake: [String], crowd: Subscribers) {
        self.target = target; self.handshake = handshake; self.crowd = crowd
        joined = handshake.isEmpty
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if joined { crowd.ready.add(1, ordering: .relaxed); return }
        for text in handshake {
            let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: text))
            context.write(wrapOutboundOut(frame), promise: nil)
        }
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            let bytes = frame.unmaskedData
            if !joined {
                if bytes.readableBytesView.starts(with: handshake.count == 1 ? Self.loginReply : Self.joinReply) {
                    joined = true
                    crowd.ready.add(1, ordering: .relaxed)
                }
                return
            }
            guard let payload = target.payloadRange(of: bytes) else { return }
            crowd.delivered.add(1, ordering: .relaxed)
            if crowd.recordLatency, let sent = Self.stamp(in: bytes.readableBytesView[payload]) {
                crowd.recordLatency(sentNanoseconds: sent)
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Closed before it was ready (the server refused or timed it out): a failure, not a wait.
    func channelInactive(context: ChannelHandlerContext) {
        if !joined {
            joined = true
            crowd.failed.add(1, ordering: .relaxed)
        }
        context.fireChannelInactive()
    }

    private static let joinReply = Array(#"{"reply":2,"#.utf8)
    private static let loginReply = Array(#"{"reply":1,"code":0"#.utf8)

    /// The send time at the start of a payload: digits up to `|`.
    static func stamp(in payload: ByteBufferView.SubSequence) -> UInt64? {
        var value: UInt64 = 0
        for byte in payload {
            if byte == UInt8(ascii: "|") { return value }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value &* 10 &+ UInt64(byte - UInt8(ascii: "0"))
        }
        return nil
    }
}
