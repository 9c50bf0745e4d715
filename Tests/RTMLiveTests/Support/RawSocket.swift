import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import RTMClient
import RTMProtocol
import Synchronization

/// A bare WebSocket client for tests: sends any frame, reads frames one by one, can stop reading.
final class RawSocket: Sendable {
    private let outbound = Mutex<WebSocketOutboundWriter?>(nil)
    private let frames: AsyncStream<String>
    private let framesContinuation: AsyncStream<String>.Continuation
    private let paused = Mutex(false)
    private let closeCodeBox = Mutex<Int?>(nil)
    private let finished: AsyncStream<Void>
    private let finishedContinuation: AsyncStream<Void>.Continuation
    private let task = Mutex<Task<Void, Never>?>(nil)

    private init() {
        (frames, framesContinuation) = AsyncStream.makeStream()
        (finished, finishedContinuation) = AsyncStream.makeStream()
    }

    static func connect(_ url: String) async throws -> RawSocket {
        let socket = RawSocket()
        let (opened, openedContinuation) = AsyncStream.makeStream(of: Bool.self)
        let task = Task {
            var configuration = WebSocketClientConfiguration()
            configuration.maxFrameSize = 1 << 20
            do {
                let close = try await WebSocketClient.connect(url: url, configuration: configuration,
                                                              logger: Logger(label: "raw")) { inbound, outbound, _ in
                    socket.outbound.withLock { $0 = outbound }
                    openedContinuation.yield(true)
                    var iterator = inbound.makeAsyncIterator()
                    while true {
                        while socket.paused.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(50)) }
                        guard let message = try await iterator.nextMessage(maxSize: 1 << 20) else { break }
                        if case .text(let text) = message { socket.framesContinuation.yield(text) }
                    }
                }
                socket.closeCodeBox.withLock { $0 = close.map { Int(UInt16(webSocketErrorCode: $0.closeCode)) } }
            } catch {
                socket.closeCodeBox.withLock { $0 = $0 ?? -1 }
            }
            openedContinuation.yield(false)
            socket.framesContinuation.finish()
            socket.finishedContinuation.yield()
            socket.finishedContinuation.finish()
        }
        socket.task.withLock { $0 = task }
        var iterator = opened.makeAsyncIterator()
        guard await iterator.next() == true else { throw RTMTestError.unexpected("could not connect to \(url)") }
        return socket
    }

    func send(_ text: String) async throws {
        try await outbound.withLock { $0 }!.write(.text(text))
    }

    /// Sends one text message split into frames (a first frame, then continuations), one per part.
    func sendFragmented(_ parts: [String]) async throws {
        try await outbound.withLock { $0 }!.withTextMessageWriter { write in
            for part in parts { try await write(part) }
        }
    }

    func sendBinary(_ bytes: [UInt8]) async throws {
        try await outbound.withLock { $0 }!.write(.binary(ByteBuffer(bytes: bytes)))
    }

    /// Stops reading the socket (the server's writes then back up).
    func pauseReading() { paused.withLock { $0 = true } }

    /// The next text frame, or `nil` if the socket closed or `limit` passed.
    func next(within limit: Duration = .seconds(10)) async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                var iterator = self.frames.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// The next frame parsed as a server frame.
    func nextFrame(within limit: Duration = .seconds(10)) async -> ServerFrame? {
        guard let text = await next(within: limit) else { return nil }
        return ServerFrame.parse(text.utf8)
    }

    /// Reads frames until one matches, up to `maximumFrames`.
    func frame(where matches: (ServerFrame) -> Bool, maximumFrames: Int = 50) async -> ServerFrame? {
        for _ in 0..<maximumFrames {
            guard let frame = await nextFrame() else { return nil }
            if matches(frame) { return frame }
        }
        return nil
    }

    /// Waits for the socket to close (bounded) and returns the close code (-1 for an abrupt end).
    func closeCode(within limit: Duration = .seconds(15)) async -> Int? {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in self.finished { break } }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
        return closeCodeBox.withLock { $0 }
    }

    func close() {
        let outbound = outbound.withLock { $0 }
        Task { try? await outbound?.close(.normalClosure, reason: nil) }
    }

    /// Sends a login request and returns its reply code.
    func login(app: String, user: String, token: String?, id: Int = 1) async throws -> Int? {
        try await call(.login(appID: app, userID: user, token: token), id: id)?.code
    }

    /// Sends `request` with `id` and returns its reply's code and fields (frames before it are skipped).
    func call(_ request: ClientRequest, id: Int) async throws -> (code: Int, fields: [String: JSONValue])? {
        try await send(String(decoding: request.encode(id: id), as: UTF8.self))
        guard case .reply(_, let code, let fields)? = await frame(where: {
            if case .reply(let replyID, _, _) = $0 { replyID == Int64(id) } else { false }
        }) else { return nil }
        return (code, fields)
    }
}
