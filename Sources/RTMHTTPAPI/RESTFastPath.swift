import Foundation
import NIOCore
import NIOHTTP1

/// Answers the REST sends that need nothing but memory on the socket's event loop, before the request
/// reaches Hummingbird; every other request passes through untouched.
///
/// It sits between NIO's HTTP/1 codec and Hummingbird's. A send is held until its body has arrived;
/// then ``RESTAPI/fastSend(_:head:body:verified:)`` either answers it (the response is written here) or
/// declines, and the held request is passed on as if it had never stopped. A request is only taken
/// while no passed-on request awaits its response, so responses leave in request order.
///
/// On a graceful shutdown (`ChannelShouldQuiesceEvent`) a held send is still answered: the event
/// goes on to Hummingbird's handler (which closes the connection once its requests are answered)
/// only after the held request was answered here or passed on.
package final class RESTFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = HTTPServerRequestPart
    package typealias InboundOut = HTTPServerRequestPart
    package typealias OutboundIn = HTTPServerResponsePart
    package typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// A send held for the fast path, its body so far.
        case holding(RESTAPI.FastRoute, HTTPRequestHead, ByteBuffer)
        /// The current request goes to Hummingbird.
        case passing
    }

    private let api: RESTAPI
    private var state = State.idle
    /// Requests passed on whose response has not been written completely yet.
    private var awaitingResponses = 0
    private var needsFlush = false
    private var deferFlush = false
    /// Fan-outs up to this size are written before the publisher's answer.
    static let deliverFirstLimit = 32
    private var passedSinceReadComplete = false
    private var date = HTTPDate()
    /// The Basic header this connection verified last (see ``RESTAPI/ConnectionVerifiedBasic``).
    private var verified: RESTAPI.ConnectionVerifiedBasic?
    /// NIO's response encoder, whose context writes already-encoded responses towards the socket.
    /// Without it (a pipeline this handler was not made for) every request passes through.
    private var encoderContext: ChannelHandlerContext?
    /// A quiesce event that arrived while a send was held, passed on once it is not.
    private var quiesceHeld = false

    init(api: RESTAPI) {
        self.api = api
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (part, state) {
        case (.head(let head), _):
            if awaitingResponses == 0, encoderContext != nil, let route = api.fastRoute(for: head),
               (head.headers.first(name: "content-length").flatMap(Int.init) ?? 0) <= api.configuration.maximumBodyBytes {
                state = .holding(route, head, context.channel.allocator.buffer(capacity: 0))
            } else {
                pass(part, context: context)
            }
        case (.body(var chunk), .holding(let route, let head, var body)):
            state = .idle   // the held body is uniquely owned while it grows
            guard body.readableBytes + chunk.readableBytes <= api.configuration.maximumBodyBytes else {
                // Too large: the regular route answers 413.
                pass(.head(head), context: context)
                if body.readableBytes > 0 { pass(.body(body), context: context) }
                pass(.body(chunk), context: context)
                return
            }
            // The usual body arrives in one chunk: kept as it is, not copied.
            if body.readableBytes == 0 { body = chunk } else { body.writeBuffer(&chunk) }
            state = .holding(route, head, body)
        case (.end, .holding(let route, let head, let body)):
            state = .idle
            if let encoderContext, let answer = api.fastSend(route, head: head, body: body, verified: &verified) {
                writeSuccess(answer, through: encoderContext)
                // The answer skipped the handlers between here and the encoder: tell them a response ended.
                context.triggerUserOutboundEvent(Self.answerWritten, promise: nil)
                if (1...Self.deliverFirstLimit).contains(answer.queuedDeliveries) { deferFlush = true }
            } else {
                pass(.head(head), context: context)
                if body.readableBytes > 0 { pass(.body(body), context: context) }
                pass(part, context: context)
                state = .idle
            }
        case (.end, _):
            passedSinceReadComplete = true
            context.fireChannelRead(data)
            state = .idle
        case (.body, _):
            passedSinceReadComplete = true
            context.fireChannelRead(data)
        }
        if quiesceHeld, !isHolding { releaseQuiesce(context: context) }
    }

    package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, isHolding {
            quiesceHeld = true
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private var isHolding: Bool {
        if case .holding = state { true } else { false }
    }

    /// Passes the held quiesce event on, after flushing an answer written here (the handler behind
    /// closes the connection at once when no request of its own is open).
    private func releaseQuiesce(context: ChannelHandlerContext) {
        quiesceHeld = false
        if needsFlush {
            needsFlush = false
            deferFlush = false
            context.flush()
        }
        context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }

    /// Hands a part to Hummingbird; a head counts as a request awaiting its response.
    private func pass(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        passedSinceReadComplete = true
        if case .head = part {
            awaitingResponses += 1
            state = .passing
        }
        context.fireChannelRead(wrapInboundOut(part))
    }

    /// The outbound user event sent after each answer the fast path wrote itself (which reaches the
    /// socket without passing the handlers between it and NIO's encoder), so that a handler there
    /// that follows requests and responses (the server's connection deadlines) sees the response end.
    package struct AnswerWritten: Sendable {}
    package static let answerWritten = AnswerWritten()

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { awaitingResponses = max(0, awaitingResponses - 1) }
        context.write(data, promise: promise)
    }

    /// Flushes the answers of this read; the handlers behind hear of the read's end only when they
    /// were passed something in it (four handler calls saved per fast-path request).
    ///
    /// When a send in this read queued a few deliveries (at most ``deliverFirstLimit``), the answer is
    /// flushed from a task queued after the deliveries' drain: receivers are written first, and a
    /// publisher on the same machine (or event loop) is not woken by its answer before the delivery
    /// arrives. A larger fan-out is answered at once, so the publisher's next request overlaps the
    /// drain and receivers' frames batch up (waiting for a 1,000-socket drain halved fan-out throughput).
    package func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            if deferFlush {
                deferFlush = false
                let channel = context.channel
                context.eventLoop.execute { channel.flush() }
            } else {
                context.flush()
            }
        }
        if passedSinceReadComplete {
            passedSinceReadComplete = false
            context.fireChannelReadComplete()
        }
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        encoderContext = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        encoderContext = nil
    }

    /// `200` with `{"code":…,"request_id":…,"result":"success"}` and the headers the regular route
    /// sends (`Content-Type`, `X-Request-ID`, `Content-Length`, `Date`).
    ///
    /// The response is written as one buffer, already encoded, from the context of NIO's response
    /// encoder (towards the socket), instead of head, body and end through the encoder: one
    /// allocation and one pipeline write per answer. Writes happen on the event loop in call order, so
    /// responses from Hummingbird, which do go through the encoder, stay in order with these.
    private func writeSuccess(_ answer: RESTAPI.FastAnswer, through encoder: ChannelHandlerContext) {
        let bodyLength = RESTResponse.successBodyLength(code: answer.code, requestID: answer.requestID)
        var response = encoder.channel.allocator.buffer(capacity: 200 + bodyLength)
        response.writeStaticString("HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nX-Request-ID: ")
        response.writeString(answer.requestID)
        response.writeStaticString("\r\nContent-Length: ")
        response.writeString(String(bodyLength))
        response.writeStaticString("\r\nDate: ")
        response.writeString(date.now())
        response.writeStaticString("\r\n\r\n")
        RESTResponse.writeSuccessBody(code: answer.code, requestID: answer.requestID, to: &response)
        encoder.write(NIOAny(response), promise: nil)
        needsFlush = true
    }
}

extension RESTAPI {
    /// The fast path for one HTTP connection; add it right after NIO's HTTP/1 server codec.
    package func makeFastPath() -> RESTFastPath {
        RESTFastPath(api: self)
    }
}

/// The `Date` header value (RFC 9110 IMF-fixdate), formatted once per second.
struct HTTPDate {
    private var second: time_t = 0
    private var text = ""

    mutating func now() -> String {
        var current = time(nil)
        guard current != second else { return text }
        second = current
        var parts = tm()
        gmtime_r(&current, &parts)
        var buffer = [CChar](repeating: 0, count: 40)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        text = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text
    }
}
