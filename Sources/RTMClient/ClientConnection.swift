import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import RTMProtocol
import Synchronization

/// One WebSocket to the server: correlates replies with requests by id and acknowledges each peer
/// message as soon as it arrives. Everything else it reports to its owner.
final class ClientConnection: Sendable {
    struct Reply: Sendable {
        var code: Int
        var fields: [String: JSONValue]
    }

    /// Why a request got no reply.
    enum Failure: Error {
        case closed
    }

    private struct State {
        var outbound: WebSocketOutboundWriter?
        var nextID: Int = 0
        var pending: [Int64: CheckedContinuation<Reply, any Error>] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)
    let closeCode = Mutex<Int?>(nil)

    private init() {}

    /// Connects; returns once the socket is open, or throws. `onEvent` gets every event in order;
    /// `onClose` runs once when the socket ends.
    static func open(url: String, logger: Logger, onEvent: @escaping @Sendable (ClientConnection, Int64?, ServerEvent) async -> Void,
                     onClose: @escaping @Sendable (ClientConnection) async -> Void) async throws -> ClientConnection {
        let connection = ClientConnection()
        let (opened, openedContinuation) = AsyncStream.makeStream(of: Bool.self)
        let task = Task {
            var configuration = WebSocketClientConfiguration()
            configuration.maxFrameSize = ServerFrame.maximumBytes
            configuration.autoPing = .enabled(timePeriod: .seconds(10))
            do {
                let closeFrame = try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) {
                    inbound, outbound, _ in
                    connection.state.withLock { $0.outbound = outbound }
                    openedContinuation.yield(true)
                    try await connection.read(inbound, outbound: outbound, onEvent: onEvent)
                }
                connection.closeCode.withLock { $0 = closeFrame.map { Int(UInt16(webSocketErrorCode: $0.closeCode)) } }
            } catch {
                logger.debug("socket ended: \(error)")
            }
            openedContinuation.yield(false)
            openedContinuation.finish()
            connection.failAll()
            await onClose(connection)
        }
        connection.task.withLock { $0 = task }
        var iterator = opened.makeAsyncIterator()
        guard await iterator.next() == true else { throw Failure.closed }
        return connection
    }

    private func read(_ inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
                      onEvent: @Sendable (ClientConnection, Int64?, ServerEvent) async -> Void) async throws {
        var iterator = inbound.makeAsyncIterator()
        while let message = try await iterator.nextMessage(maxSize: ServerFrame.maximumBytes) {
            guard case .text(let text) = message, let frame = ServerFrame.parse(text.utf8) else { continue }
            switch frame {
            case .reply(let id, let code, let fields):
                let waiter = state.withLock { $0.pending.removeValue(forKey: id) }
                waiter?.resume(returning: Reply(code: code, fields: fields))
            case .event(let seq, let event):
                if case .peerMessage(let messageID, _, _, _, _) = event {
                    let ack = ClientRequest.ack(messageID: messageID).encode(id: 0)
                    try? await outbound.write(.text(String(decoding: ack, as: UTF8.self)))
                }
                await onEvent(self, seq, event)
            case .unknownEvent:
                continue
            }
        }
    }

    /// Sends `request` and waits for its reply; throws ``Failure/closed`` if the socket ends first.
    func request(_ request: ClientRequest) async throws -> Reply {
        let (id, outbound) = try state.withLock { state -> (Int, WebSocketOutboundWriter) in
            guard !state.closed, let outbound = state.outbound else { throw Failure.closed }
            state.nextID += 1
            return (state.nextID, outbound)
        }
        return try await withCheckedThrowingContinuation { continuation in
            let registered = state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.pending[Int64(id)] = continuation
                return true
            }
            guard registered else { return continuation.resume(throwing: Failure.closed) }
            Task {
                do {
                    try await outbound.write(.text(String(decoding: request.encode(id: id), as: UTF8.self)))
                } catch {
                    let waiter = self.state.withLock { $0.pending.removeValue(forKey: Int64(id)) }
                    waiter?.resume(throwing: Failure.closed)
                }
            }
        }
    }

    /// Closes the socket; pending requests fail.
    func close() {
        let outbound = state.withLock { $0.outbound }
        failAll()
        Task { try? await outbound?.close(.normalClosure, reason: nil) }
        Task {
            try? await Task.sleep(for: .seconds(2))
            task.withLock { $0 }?.cancel()
        }
    }

    /// Fails every request still waiting for a reply.
    func failAll() {
        let waiters = state.withLock { state -> [CheckedContinuation<Reply, any Error>] in
            state.closed = true
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for waiter in waiters { waiter.resume(throwing: Failure.closed) }
    }
}
