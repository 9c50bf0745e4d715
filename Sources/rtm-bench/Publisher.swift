import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Sends REST publishes over keep-alive HTTP/1.1 connections whose handlers run on the event loop:
/// no task, no future chain and no header building per request, so the generator stays cheap next
/// to the server it drives (its ceiling is measured against nginx's `return 200`).
struct Publisher: Sendable {
    let target: BenchTarget
    let endpoint: Endpoint
    let credentials: BenchCredentials

    /// Publishes for `duration` over `concurrency` connections; returns (successes, failures, elapsed seconds).
    func flood(channel: String, duration: Duration, concurrency: Int, payloadBytes: Int) async throws -> (Int, Int, Double) {
        let counts = PublishCounts()
        let request = target.publishRequest(endpoint: endpoint, channel: channel, credentials: credentials)
        let body = request.body(payload: String(repeating: "x", count: payloadBytes))
        let head = request.head(contentLength: body.readableBytes)
        let start = NIODeadline.now()
        let deadline = start + .nanoseconds(duration.nanoseconds)
        let group = MultiThreadedEventLoopGroup.singleton
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for _ in 0..<concurrency {
                let loop = group.next()
                tasks.addTask {
                    // A server may close a keep-alive connection after so many requests: open another until the deadline.
                    while NIODeadline.now() < deadline {
                        let closed = loop.makePromise(of: Void.self)
                        let flood = PublishHandler.Flood(body: body, deadline: deadline, closed: closed)
                        connect(on: loop) { PublishHandler(head: head, counts: counts, flood: flood) }
                            .whenFailure { closed.fail($0) }
                        try await closed.futureResult.get()
                    }
                }
            }
            try await tasks.waitForAll()
        }
        let elapsed = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        return (counts.ok.load(ordering: .relaxed), counts.failed.load(ordering: .relaxed), elapsed)
    }

    /// Publishes `rate` messages per second for `duration`, each stamped with its send time; returns how many were sent.
    func paced(channel: String, rate: Int, duration: Duration, concurrency: Int, payloadBytes: Int) async throws -> Int {
        let counts = PublishCounts()
        let request = target.publishRequest(endpoint: endpoint, channel: channel, credentials: credentials)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        var channels: [any Channel] = []
        let head = request.head(contentLength: request.body(payload: stampedPayload(bytes: payloadBytes)).readableBytes)
        for _ in 0..<concurrency {
            channels.append(try await connect(on: loop) { PublishHandler(head: head, counts: counts, flood: nil) }.get())
        }
        let total = Int(duration.components.seconds) * rate
        let interval = Int64(1_000_000_000 / rate)
        let start = NIODeadline.now()
        let pool = channels
        let sent = try await loop.flatSubmit {
            PacedSchedule(loop: loop, channels: pool, request: request, payloadBytes: payloadBytes)
                .run(start: start, interval: interval, total: total)
        }.get()
        // Let the last replies come back, then close.
        let deadline = ContinuousClock.now + .seconds(10)
        while counts.ok.load(ordering: .relaxed) + counts.failed.load(ordering: .relaxed) < sent && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        for channel in channels { try? await channel.close() }
        return sent
    }
}

extension Publisher {
    /// A keep-alive HTTP/1.1 connection to the server whose last handler is `handler()`.
    func connect(on loop: any EventLoop, handler: @escaping @Sendable () -> PublishHandler) -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler())
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
    }
}

/// Where the server listens (from `--url`).
struct Endpoint: Sendable {
    var host: String
    var port: Int

    init(url: String) throws {
        guard let parsed = URL(string: url), let host = parsed.host, let port = parsed.port else {
            throw BenchError("--url must look like http://127.0.0.1:8080, got \(url)")
        }
        self.host = host
        self.port = port
    }
}

/// A publish request: the head without its length, and the body for one payload.
struct PublishRequest: Sendable {
    var head: HTTPRequestHead
    var makeBody: @Sendable (String) -> ByteBuffer

    func body(payload: String) -> ByteBuffer { makeBody(payload) }

    /// The head for bodies of `length` bytes (every body of one run has the same length, so it is made once).
    func head(contentLength length: Int) -> HTTPRequestHead {
        var head = head
        head.headers.replaceOrAdd(name: "Content-Length", value: String(length))
        return head
    }
}

/// Replies counted across connections.
final class PublishCounts: Sendable {
    let ok = Atomic<Int>(0)
    let failed = Atomic<Int>(0)

    func count(_ status: HTTPResponseStatus) {
        if (200..<300).contains(status.code) { ok.add(1, ordering: .relaxed) } else { failed.add(1, ordering: .relaxed) }
    }
}

/// One publishing connection: sends when told and counts each reply. Flooding, it sends the next
/// request as soon as a reply arrives, until the deadline (then closes), and reports when it closed.
final class PublishHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    /// What a flooding connection resends, until when, and the promise its closing completes.
    struct Flood: Sendable {
        var body: ByteBuffer
        var deadline: NIODeadline
        var closed: EventLoopPromise<Void>
    }

    private let head: HTTPRequestHead
    private let counts: PublishCounts
    private let flood: Flood?
    private var context: ChannelHandlerContext?
    private var status = HTTPResponseStatus.ok
    private(set) var inFlight = 0

    init(head: HTTPRequestHead, counts: PublishCounts, flood: Flood?) {
        self.head = head; self.counts = counts; self.flood = flood
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        if let flood { send(body: flood.body) }
    }

    func send(body: ByteBuffer) {
        guard let context else { counts.failed.add(1, ordering: .relaxed); return }
        inFlight += 1
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let response): status = response.status
        case .body: break
        case .end:
            inFlight -= 1
            counts.count(status)
            guard let flood else { return }
            if NIODeadline.now() < flood.deadline { send(body: flood.body) } else { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        flood?.closed.succeed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        counts.failed.add(1, ordering: .relaxed)
        context.close(promise: nil)
    }
}

/// Sends `total` publishes at fixed intervals from `start`, each on an idle connection when one is free.
final class PacedSchedule {
    private let loop: any EventLoop
    private let handlers: [PublishHandler]
    private let request: PublishRequest
    private let payloadBytes: Int
    private var next = 0

    init(loop: any EventLoop, channels: [any Channel], request: PublishRequest, payloadBytes: Int) {
        self.loop = loop
        self.handlers = channels.compactMap { try? $0.pipeline.syncOperations.handler(type: PublishHandler.self) }
        self.request = request
        self.payloadBytes = payloadBytes
    }

    func run(start: NIODeadline, interval: Int64, total: Int) -> EventLoopFuture<Int> {
        let done = loop.makePromise(of: Int.self)
        tick(index: 0, start: start, interval: interval, total: total, done: done)
        return done.futureResult
    }

    private func tick(index: Int, start: NIODeadline, interval: Int64, total: Int, done: EventLoopPromise<Int>) {
        guard index < total, !handlers.isEmpty else { done.succeed(index); return }
        let handler = handlers.indices.lazy.map { self.handlers[(self.next + $0) % self.handlers.count] }
            .first { $0.inFlight == 0 } ?? handlers[next % handlers.count]
        next += 1
        handler.send(body: request.body(payload: stampedPayload(bytes: payloadBytes)))
        let due = start + .nanoseconds(interval * Int64(index + 1))
        let schedule = NIOLoopBound(self, eventLoop: loop)
        loop.scheduleTask(deadline: due) {
            schedule.value.tick(index: index + 1, start: start, interval: interval, total: total, done: done)
        }
    }
}

/// `<send ns>|xxxx…` padded to `bytes`: the receiver computes the latency from the stamp.
func stampedPayload(bytes: Int) -> String {
    let stamp = "\(nowNanoseconds())|"
    return stamp + String(repeating: "x", count: max(0, bytes - stamp.utf8.count))
}

/// A usage error with a message for the person running the benchmark.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
