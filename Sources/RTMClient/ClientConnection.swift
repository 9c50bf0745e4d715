import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import RTMProtocol
import Synchronization

/// One WebSocket to the server: correlates replies with requests by id, acknowledges peer
/// messages, and publishes events to ``ClientStreams``.
final class ClientConnection: Sendable {
    struct Reply: Sendable {
        var code: Int
        var fields: [String: JSONValue]
    }

    private struct State {
        var outbound: WebSocketOutboundWriter?
        var nextID: Int = 0
        var pending: [Int64: CheckedContinuation<Reply, any Error>] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    private let streams: ClientStreams
    private let task = Mutex<Task<Void, Never>?>(nil)

    private init(streams: ClientStreams) {
        self.streams = streams
    }

    /// Connects and returns once the socket is open.
    static func open(url: String, streams: ClientStreams, logger: Logger) async throws -> ClientConnection {
        let connection = ClientConnection(streams: streams)
        try await withCheckedThrowingContinuation { (opened: CheckedContinuation<Void, any Error>) in
            let didOpen = Mutex(false)
            let task = Task {
                var configuration = WebSocketClientConfiguration()
                configuration.maxFrameSize = 1 << 20
                do {
                    let closeFrame = try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) {
                        inbound, outbound, _ in
                        connection.state.withLock { $0.outbound = outbound }
                        didOpen.withLock { $0 = true }
                        opened.resume()
                        try await connection.read(inbound, outbound: outbound)
                    }
                    streams.closeCode.withLock { $0 = closeFrame.map { UInt16(Self.code($0.closeCode)) } }
                } catch {
                    if !didOpen.withLock({ $0 }) {
                        didOpen.withLock { $0 = true }
                        opened.resume(throwing: RTMClientError.disconnected)
                    }
                }
                if !didOpen.withLock({ $0 }) {
                    didOpen.withLock { $0 = true }
                    opened.resume(throwing: RTMClientError.disconnected)
                }
                connection.failAll()
            }
            connection.task.withLock { $0 = task }
        }
        return connection
    }

    private static func code(_ code: WebSocketErrorCode) -> Int {
        WebSocketErrorCode.code(code)
    }

    private func read(_ inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        var iterator = inbound.makeAsyncIterator()
        while let message = try await iterator.nextMessage(maxSize: 1 << 20) {
            guard case .text(let text) = message, let frame = ServerFrame.parse(text.utf8) else { continue }
            switch frame {
            case .reply(let id, let code, let fields):
                let waiter = state.withLock { $0.pending.removeValue(forKey: id) }
                waiter?.resume(returning: Reply(code: code, fields: fields))
            case .event(_, let event):
                if case .peerMessage(let messageID, let from, let payload, let serverTimestamp, let offline) = event {
                    try? await outbound.write(.text(String(decoding: ClientRequest.ack(messageID: messageID).encode(id: 0), as: UTF8.self)))
                    streams.peerContinuation.yield(ReceivedPeerMessage(messageID: messageID, from: from, payload: payload,
                                                                       serverTimestamp: serverTimestamp, isOffline: offline))
                }
                streams.eventContinuation.yield(event)
            case .unknownEvent:
                continue
            }
        }
    }

    /// Sends `request` and waits for its reply.
    func request(_ request: ClientRequest) async throws -> Reply {
        let (id, outbound) = try state.withLock { state -> (Int, WebSocketOutboundWriter) in
            guard !state.closed, let outbound = state.outbound else { throw RTMClientError.disconnected }
            state.nextID += 1
            return (state.nextID, outbound)
        }
        return try await withCheckedThrowingContinuation { continuation in
            let registered = state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.pending[Int64(id)] = continuation
                return true
            }
            guard registered else { return continuation.resume(throwing: RTMClientError.disconnected) }
            Task {
                do {
                    try await outbound.write(.text(String(decoding: request.encode(id: id), as: UTF8.self)))
                } catch {
                    let waiter = self.state.withLock { $0.pending.removeValue(forKey: Int64(id)) }
                    waiter?.resume(throwing: RTMClientError.disconnected)
                }
            }
        }
    }

    /// Closes the socket; pending requests fail with ``RTMClientError/disconnected``.
    func close() {
        let outbound = state.withLock { $0.outbound }
        Task { try? await outbound?.close(.normalClosure, reason: nil) }
        Task {
            try? await Task.sleep(for: .seconds(2))
            task.withLock { $0 }?.cancel()
        }
    }

    private func failAll() {
        let waiters = state.withLock { state -> [CheckedContinuation<Reply, any Error>] in
            state.closed = true
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for waiter in waiters { waiter.resume(throwing: RTMClientError.disconnected) }
    }
}

extension WebSocketErrorCode {
    /// The numeric close code.
    package static func code(_ code: WebSocketErrorCode) -> Int {
        switch code {
        case .normalClosure: 1000
        case .goingAway: 1001
        case .protocolError: 1002
        case .unacceptableData: 1003
        case .dataInconsistentWithMessage: 1007
        case .policyViolation: 1008
        case .messageTooLarge: 1009
        case .missingExtension: 1010
        case .unexpectedServerError: 1011
        case .unknown(let value): Int(value)
        }
    }
}
