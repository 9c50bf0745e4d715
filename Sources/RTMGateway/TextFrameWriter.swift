import NIOCore
import NIOWebSocket

/// Writes the gateway's outgoing text frames already framed, below NIO's WebSocket encoder.
///
/// NIO's `WebSocketFrameEncoder` can put a frame's header in front of its payload only when it holds
/// the payload's only reference, which it never does when called through the pipeline; so every frame
/// left as two buffers (a header, then the payload). Every buffer the gateway queues has
/// ``headerRoom`` free bytes in front of it: the header goes there and the frame leaves as one buffer,
/// written from the encoder's context straight towards the socket. Hummingbird's own frames (pongs,
/// close) still go through the encoder; all writes happen on the event loop, so their order holds.
struct TextFrameWriter {
    /// Room kept in front of every queued payload: the largest header of an unmasked frame.
    static let headerRoom = 10

    /// A payload buffer of `capacity` bytes, with the header room in front.
    static func payloadBuffer(capacity: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: headerRoom + capacity)
        buffer.moveWriterIndex(forwardBy: headerRoom)
        buffer.moveReaderIndex(forwardBy: headerRoom)
        return buffer
    }

    /// A payload buffer holding `bytes`, with the header room in front.
    static func payloadBuffer(_ bytes: [UInt8]) -> ByteBuffer {
        var buffer = payloadBuffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return buffer
    }

    /// The encoder's context, found on the event loop once the socket starts; nil if the pipeline has no
    /// encoder (then frames go through the channel as `WebSocketFrame`s).
    private let encoderContext: NIOLoopBoundBox<ChannelHandlerContext?>
    let channel: any Channel

    init(channel: any Channel) {
        self.channel = channel
        self.encoderContext = NIOLoopBoundBox.makeEmptyBox(valueType: ChannelHandlerContext.self, eventLoop: channel.eventLoop)
    }

    /// Finds the encoder (call once, before the first write).
    func start() async {
        let box = encoderContext, channel = channel
        try? await channel.eventLoop.submit {
            box.value = try? channel.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
        }.get()
    }

    /// Writes one text frame whose payload is `payload` (on the event loop).
    func write(_ payload: consuming ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard let context = encoderContext.value else {
            channel.write(WebSocketFrame(fin: true, opcode: .text, data: payload), promise: promise)
            return
        }
        context.write(NIOAny(Self.frame(payload)), promise: promise)
    }

    /// Flushes what was written (on the event loop).
    func flush() {
        if let context = encoderContext.value { context.flush() } else { channel.flush() }
    }

    /// `payload` as a complete unmasked text frame: the header written into the room in front when there
    /// is room, or header and payload copied into a new buffer when there is not.
    /// `payload` is consumed so that, when the caller held the only reference, the header is written in
    /// place without copying the buffer.
    static func frame(_ payload: consuming ByteBuffer) -> ByteBuffer {
        let length = payload.readableBytes
        let headerSize = length < 126 ? 2 : (length <= Int(UInt16.max) ? 4 : 10)
        var frame: ByteBuffer
        if payload.readerIndex >= headerSize {
            payload.moveReaderIndex(to: payload.readerIndex - headerSize)
            frame = consume payload
        } else {
            frame = ByteBufferAllocator().buffer(capacity: headerSize + length)
            frame.moveWriterIndex(forwardBy: headerSize)
            frame.writeImmutableBuffer(payload)
        }
        let start = frame.readerIndex
        frame.setInteger(UInt8(0x81), at: start)   // FIN, text
        switch headerSize {
        case 2: frame.setInteger(UInt8(length), at: start + 1)
        case 4: frame.setInteger(UInt8(126), at: start + 1); frame.setInteger(UInt16(length), at: start + 2)
        default: frame.setInteger(UInt8(127), at: start + 1); frame.setInteger(UInt64(length), at: start + 2)
        }
        return frame
    }
}
