import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import RTMGateway

/// The server's connection set-up: HTTP/1.1 for REST, and `GET /v1/ws` upgraded to a WebSocket
/// that the gateway runs as a NIO handler.
///
/// Hummingbird's own WebSocket channel runs every socket in a task (plus an auto-ping task); this one
/// ends the connection's task as soon as the upgrade is done, so an idle client costs only its NIO
/// channel and its session. HTTP requests go to Hummingbird's router as usual, except the REST
/// sends that the fast path (`RESTFastPath`) answers on the event loop.
struct RTMServerChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        case webSocket
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case failedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    /// A connection let in: `proxyPeer` is its peer when that is a trusted proxy whose first request
    /// names the client to count it against.
    struct Admission {
        var proxyPeer: String?
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let gateway: Gateway
    /// Deadlines, the bound per client address and trusted proxies (``HTTPConnectionGuard``).
    let connections: HTTPConnectionSettings
    /// Makes the handler that sits right after NIO's HTTP/1 codec on every HTTP connection (the REST
    /// fast path), if any.
    let fastPath: @Sendable () -> (any ChannelHandler)?

    init(responder: @escaping HTTPChannelHandler.Responder, gateway: Gateway, connections: HTTPConnectionSettings,
         fastPath: @escaping @Sendable () -> (any ChannelHandler)?) {
        self.responder = Self.refusingLateUpgrades(responder)
        self.gateway = gateway
        self.connections = connections
        self.fastPath = fastPath
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let gateway = self.gateway, fastPath = self.fastPath, connections = self.connections
            guard let admission = Self.admit(channel, connections: connections, logger: logger) else {
                return Value(upgradeResult: channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel), channel: channel)
            }
            // NIO keeps each socket's first receive buffer for reuse for the socket's lifetime: its
            // default 2 KiB is most of what an idle WebSocket costs. Requests and frames here are
            // small; the allocator still grows the buffer for larger reads.
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
            let upgradeAttempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: gateway.configuration.maximumFrameBytes,
                enableAutomaticErrorHandling: false,   // the gateway's handler closes with 1002/1009 itself
                shouldUpgrade: { channel, head in
                    upgradeAttempted.value = true
                    let path = head.uri.split(separator: "?", maxSplits: 1).first ?? ""
                    return channel.eventLoop.makeSucceededFuture(path == Gateway.path ? HTTPHeaders() : nil)
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        // An upgraded socket follows the gateway's ping and dead-link rule, not HTTP deadlines.
                        let pipeline = channel.pipeline.syncOperations
                        pipeline.removeHandler(try pipeline.handler(type: HTTPConnectionGuard.ByteWatcher.self), promise: nil)
                        pipeline.removeHandler(try pipeline.handler(type: HTTPConnectionGuard.self), promise: nil)
                        // One read per wake-up keeps NIO's pool of receive buffers at one buffer per socket.
                        try channel.syncOptions?.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
                        try channel.pipeline.syncOperations.addHandler(gateway.makeFrameHandler(logger: logger))
                        return .webSocket
                    }
                })
            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        // A REST request (a send is ~330 bytes) would take two reads with 256 bytes.
                        try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.httpReceiveBuffers)
                        if let fastPath = fastPath() { try pipeline.addHandler(fastPath) }
                        try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return upgradeAttempted.value ? .failedUpgrade(asyncChannel) : .http(asyncChannel)
                    }
                })
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: upgradeConfiguration)
            configuration.enablePipelining = false   // Hummingbird answers one request at a time
            configuration.enableErrorHandling = false   // Hummingbird answers parse errors with 400
            configuration.enableResponseHeaderValidation = false   // HTTPTypes validated them
            let pipeline = channel.pipeline.syncOperations
            let result = try pipeline.configureUpgradableHTTPServerPipeline(configuration: configuration)
            let connectionGuard = HTTPConnectionGuard(settings: connections, proxyPeer: admission.proxyPeer, logger: logger)
            try pipeline.addHandler(connectionGuard.makeByteWatcher(), position: .first)
            try pipeline.addHandler(connectionGuard, position: .after(pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)))
            return Value(upgradeResult: result, channel: channel)
        }
    }

    /// Receive buffers start at 256 bytes (NIO's default is 2 KiB) and adapt between 64 bytes and 64 KiB:
    /// what every connection starts with, and what a WebSocket keeps.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 64 * 1024)

    /// Receive buffers of connections that stay HTTP (REST calls), from their second read on: NIO's
    /// default sizes (2 KiB, adapting between 64 bytes and 64 KiB), so a request arrives in one read.
    static let httpReceiveBuffers = AdaptiveRecvByteBufferAllocator()

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .webSocket:
                return   // the gateway's handler owns the socket from here; no task stays behind
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .failedUpgrade(let http):
                await Self.refuseUpgrade(http)
            }
        } catch {
            // An upgrade NIO could not complete (a bad WebSocket key or version), a connection refused at
            // accept, a request refused before its head: nothing will answer on it any more.
            logger.debug("connection set-up failed: \(error)")
            try? await value.channel.close()
        }
    }

    /// A WebSocket upgrade NIO refused (a path other than `/v1/ws`, a bad key or version): 400, close.
    private static func refuseUpgrade(_ http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>) async {
        try? await http.executeThenClose { _, outbound in
            let head = HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])
            try await outbound.write(contentsOf: [.head(head), .end(nil)])
        }
    }

    /// NIO upgrades only a connection's first request. An upgrade asked later on a kept-alive connection
    /// is answered 400 and the connection is closed; the client upgrades on a fresh connection. (A
    /// redirect to the request's own URI would be protocol-relative, `//…`, for a URI that begins
    /// with `//`: a redirect to another host.)
    private static func refusingLateUpgrades(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        struct LateUpgrade: Error {}
        return { request, writer, channel in
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                return try await responder(request, writer, channel)
            }
            try await writer.writeResponse(HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"]))
            throw LateUpgrade()
        }
    }

    /// Whether a new connection may stay (connections per client address), and whether its first
    /// request must name the client (its peer is a trusted proxy). `nil`: refused and closed.
    private static func admit(_ channel: any Channel, connections: HTTPConnectionSettings, logger: Logger) -> Admission? {
        guard let perAddress = connections.perAddress, let peer = channel.remoteAddress?.ipAddress else { return Admission(proxyPeer: nil) }
        if connections.addresses.isTrusted(peer) { return Admission(proxyPeer: peer) }
        guard perAddress.acquire(peer) else {
            HTTPConnectionClosure.perAddressLimit.count()
            logger.debug("too many connections from one address", metadata: ["client": "\(peer)"])
            channel.close(promise: nil)
            return nil
        }
        channel.closeFuture.whenComplete { _ in perAddress.release(peer) }
        return Admission(proxyPeer: nil)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the gateway's WebSocket upgrade at `/v1/ws` (see ``RTMServerChannel``).
    static func rtm(gateway: Gateway, connections: HTTPConnectionSettings,
                    fastPath: @escaping @Sendable () -> (any ChannelHandler)? = { nil }) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            RTMServerChannel(responder: responder, gateway: gateway, connections: connections, fastPath: fastPath)
        }
    }
}
