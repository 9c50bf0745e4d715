import AgoraToken
import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import RTMCore
import RTMGateway
import RTMHTTPAPI
import Synchronization

/// The REST fast path under fuzzing: raw bytes go through an `EmbeddedChannel` holding NIO's HTTP/1
/// request decoder and response encoder, the fast path (``RESTFastPath``) and, behind it, a stand-in for
/// Hummingbird that answers every request passed on. The API behind the fast path is a real one on
/// in-memory stores, with one app and one customer credential, so plain sends are answered by the fast path.
///
/// The first input byte sets how the rest is delivered: `0` in one read, `n` in reads of `n` bytes.
/// Besides "no trap", it checks that what the fast path passes on is a well-formed request sequence
/// (head, body parts, end), as if it had never held anything back.
package final class RESTFastPathFuzzing: Sendable {
    package static let appID = TokenFuzzing.appID
    package static let customerID = "fuzz-customer"
    package static let customerSecret = "fuzz-secret"

    private let api: RESTAPI
    private static let prepared = Mutex<RESTFastPathFuzzing?>(nil)

    private init(api: RESTAPI) {
        self.api = api
    }

    /// Builds the API once (call before ``FuzzEntry/run(_:)`` for ``FuzzEntry/restFastPath``).
    package static func prepare() async {
        if prepared.withLock({ $0 }) != nil { return }
        let stores = StoreBundle.inMemory()
        let appID = AppID(Self.appID)!
        try! await stores.apps.upsertApp(AppRecord(appID: appID, certificate: TokenFuzzing.certificate,
                                                   messagingRateLimit: 1_000_000_000))
        try! await stores.apps.upsertCredential(CustomerCredential(customerID: customerID, secretHash: Signing.sha256Hex(customerSecret),
                                                                   apps: ["*"]))
        let clock = SystemClock()
        let apps = AppDirectory(registry: stores.apps, clock: clock)
        try! await apps.reload()
        let router = RTMCore.Router(clock: clock, encoder: GatewayEventEncoder())
        let api = RESTAPI(messages: MessageService(broker: router, stores: stores), apps: apps)
        prepared.withLock { $0 = $0 ?? RESTFastPathFuzzing(api: api) }
    }

    /// Builds the API from synchronous code (the fuzzer's start), waiting for ``prepare()``.
    package static func prepareBlocking() {
        let done = DispatchSemaphore(value: 0)
        Task {
            await prepare()
            done.signal()
        }
        done.wait()
    }

    /// Sends the fast path answered so far (the replay test checks the seeds reach it).
    package static var fastPathAnswerCount: Int { shared.api.fastPathAnswerCount }

    static var shared: RESTFastPathFuzzing {
        guard let harness = prepared.withLock({ $0 }) else { preconditionFailure("RESTFastPathFuzzing.prepare() was not called") }
        return harness
    }

    func run(_ input: UnsafeBufferPointer<UInt8>) {
        guard let first = input.first else { return }
        let bytes = UnsafeBufferPointer(rebasing: input.dropFirst())
        let readSize = first == 0 ? max(bytes.count, 1) : Int(first)
        let channel = EmbeddedChannel()
        let pipeline = channel.pipeline.syncOperations
        try! pipeline.addHandler(HTTPResponseEncoder())
        try! pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
        try! pipeline.addHandler(api.makeFastPath())
        try! pipeline.addHandler(PassedRequestChecker())
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + readSize, bytes.count)
            var buffer = channel.allocator.buffer(capacity: end - offset)
            buffer.writeBytes(bytes[offset..<end])
            do {
                try channel.writeInbound(buffer)
            } catch {
                break   // a request NIO cannot parse: the connection is done
            }
            offset = end
        }
        _ = try? channel.finish()
    }
}

/// Hummingbird's stand-in: checks that the parts it is passed form whole requests, and answers each.
private final class PassedRequestChecker: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var inRequest = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            precondition(!inRequest, "the fast path passed on a request head inside another request")
            inRequest = true
        case .body:
            precondition(inRequest, "the fast path passed on a body part outside a request")
        case .end:
            precondition(inRequest, "the fast path passed on a request end outside a request")
            inRequest = false
            let head = HTTPResponseHead(version: .http1_1, status: .notFound, headers: HTTPHeaders([("content-length", "0")]))
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
