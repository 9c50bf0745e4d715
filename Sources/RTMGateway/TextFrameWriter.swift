import NIOCore
import NIOWebSocket

/// Writes the gateway's outgoing text frames already framed, below NIO's WebSocket encoder.
///
/// NIO's `WebSocketFrameEncoder` puts a frame's header in front of its payload only when it holds the
/// payload's only reference; called through the pipeline it does not (the caller's `NIOAny` still holds
/// one), and a fan-out profile showed every frame leaving as two buffers, a header then the payload.
/// Every buffer the gateway queues has ``headerRoom`` free bytes in front of it: the header goes there
/// and the frame leaves as one buffer, written from the encoder's context straight towards the socket. Control frames (pings, pongs,
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

    /// The encoder's context, found on the event loop by ``start()``.
    private let encoderContext: NIOLoopBoundBox<ChannelHandlerContext?>

    init(channel: any Channel) {
        self.encoderContext = NIOLoopBoundBox.makeEmptyBox(valueType: ChannelHandlerContext.self, eventLoop: channel.eventLoop)
        self.channel = channel
    }

    private let channel: any Channel

    /// Finds NIO's WebSocket encoder in the socket's pipeline, on the event loop; `false` if it is not
    /// there (then nothing may be written: the pipeline is not the one this writer was made for).
    func start() -> Bool {
        encoderContext.value = try? channel.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
        return encoderContext.value != nil
    }

    /// Writes one text frame whose payload is `payload` (on the event loop, after a successful ``start()``).
    func write(_ payload: consuming ByteBuffer, promise: EventLoopPromise<Void>?) {
        encoderContext.value!.write(NIOAny(Self.frame(payload)), promise: promise)
    }

    /// Writes bytes that are already complete frames (see ``appendFrame(_:to:)``).
    func writeFramed(_ frames: ByteBuffer, promise: EventLoopPromise<Void>?) {
        encoderContext.value!.write(NIOAny(frames), promise: promise)
    }

    /// Appends `payload` as a complete unmasked text frame to `frames`.
    static func appendFrame(_ payload: ByteBuffer, to frames: inout ByteBuffer) {
        let length = payload.readableBytes
        let start = frames.writerIndex
        frames.writeRepeatingByte(0, count: headerSize(length))
        setHeader(length: length, in: &frames, at: start)
        frames.writeImmutableBuffer(payload)
    }

    /// Flushes what was written (on the event loop, after a successful ``start()``).
    func flush() {
        encoderContext.value!.flush()
    }

    /// `payload` as a complete unmasked text frame: the header written into the room in front when there
    /// is room, or header and payload copied into a new buffer when there is not.
    /// `payload` is consumed so that, when the caller held the only reference, the header is written in
    /// place without copying the buffer.
    static func frame(_ payload: consuming ByteBuffer) -> ByteBuffer {
        let length = payload.readableBytes
        let size = headerSize(length)
        guard payload.readerIndex >= size else {
            var frame = ByteBufferAllocator().buffer(capacity: size + length)
            appendFrame(payload, to: &frame)
            return frame
        }
        payload.moveReaderIndex(to: payload.readerIndex - size)
        var frame = consume payload
        setHeader(length: length, in: &frame, at: frame.readerIndex)
        return frame
    }

    /// Bytes of the header of an unmasked frame with a payload of `length` bytes.
    static func headerSize(_ length: Int) -> Int {
        length < 126 ? 2 : (length <= Int(UInt16.max) ? 4 : 10)
    }

    /// Writes the header of an unmasked final text frame of `length` payload bytes at `start`
    /// (``headerSize(_:)`` bytes there must already be within the buffer).
    private static func setHeader(length: Int, in buffer: inout ByteBuffer, at start: Int) {
        buffer.setInteger(UInt8(0x81), at: start)   // FIN, text
        switch headerSize(length) {
        case 2: buffer.setInteger(UInt8(length), at: start + 1)
        case 4: buffer.setInteger(UInt8(126), at: start + 1); buffer.setInteger(UInt16(length), at: start + 2)
        default: buffer.setInteger(UInt8(127), at: start + 1); buffer.setInteger(UInt64(length), at: start + 2)
        }
    }
}
