import Foundation
import RTMProtocol
import RTMTestSupport
import Testing

/// SIGTERM to `rtm serve` (a child process, through the binary's own `run`) while REST sends are in
/// flight: every one is answered, logged-in clients are told (`connection_state` RECONNECTING /
/// INTERRUPTED, close 1001), the process exits 0, and every send answered `message_offline` is
/// delivered after a restart on the same store.
///
/// It checks the shutdown order: with the HTTP server stopped before the session drain, the clients
/// get neither the state nor 1001 and the held requests are cut; with the REST fast path not holding
/// the quiesce event for a held send, that send is cut.
@Suite struct GracefulShutdownTests {
    static let appID = "0123456789abcdef0123456789abcdef"
    static let authorization = "Basic " + Data("drain-customer:drain-secret-123456".utf8).base64EncodedString()
    static let stored = 20

    /// An HTTP/1.1 peer-message POST, split so the head and the first half of the body can go before
    /// SIGTERM and the rest after it.
    static func peerRequest(from sender: String, body: String, query: String = "") -> (head: String, rest: String) {
        let request = "POST /dev/v2/project/\(appID)/rtm/users/\(sender)/peer_messages\(query) HTTP/1.1\r\nHost: t\r\n"
            + "Authorization: \(authorization)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        let half = body.index(body.startIndex, offsetBy: body.count / 2)
        return (request + body[..<half], String(body[half...]))
    }

    /// The `code` field of the JSON body of the first response on `connection`.
    static func answerCode(_ connection: RawTCP) -> String? {
        guard let body = connection.text.components(separatedBy: "\r\n\r\n").dropFirst().first,
              let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else { return nil }
        return object["code"] as? String
    }

    static func isShutdownState(_ frame: ServerFrame) -> Bool {
        if case .event(_, .connectionState(let state, let reason)) = frame {
            return state == ConnectionState.reconnecting.rawValue && reason == ConnectionChangeReason.interrupted.rawValue
        }
        return false
    }

    @Test(arguments: [StoreBackend.sqlite, .postgres])
    func sigtermAnswersInFlightSendsTellsClientsAndKeepsWhatItStored(_ backend: StoreBackend) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rtm-sigterm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("rtm.yaml").path
        // A short ack timeout: a wait_for_ack send whose receiver is told to go away ends with it.
        try """
        ack_timeout_seconds: 2
        apps:
          - app_id: \(Self.appID)
        customers:
          - id: drain-customer
            secret: drain-secret-123456

        """.write(toFile: config, atomically: true, encoding: .utf8)
        var arguments = ["--port", "0", "--data-dir", directory.appendingPathComponent("data").path, "--config", config]
        if backend == .postgres { arguments += ["--database-url", try await StoreBackend.freshPostgresDatabase()] }

        let server = try ServerProcess(serve: arguments)
        defer { server.stop() }
        let port = try await server.listeningPort()
        let wsURL = "ws://127.0.0.1:\(port)/v1/ws"
        let receiver = try await RawSocket.connect(wsURL)
        #expect(try await receiver.login(app: Self.appID, user: "receiver", token: nil) == 0)
        let bystander = try await RawSocket.connect(wsURL)
        #expect(try await bystander.login(app: Self.appID, user: "bystander", token: nil) == 0)

        // In flight at SIGTERM: wait_for_ack sends to a receiver that never acks (sent whole, their
        // messages delivered), and offline sends to a user who is not logged in (head and half the
        // body sent; the rest only after the clients were told the server is going away).
        var waiting: [RawTCP] = []
        for index in 0..<2 {
            let body = #"{"destination":"receiver","payload":"w\#(index)"}"#
            let request = Self.peerRequest(from: "rest", body: body, query: "?wait_for_ack=true")
            let connection = try await RawTCP.connect(port: port)
            try await connection.send(request.head + request.rest)
            waiting.append(connection)
        }
        var delivered = 0
        for _ in 0..<10 where delivered < 2 {
            if case .event(_, .peerMessage)? = await receiver.frame(where: { if case .event(_, .peerMessage) = $0 { true } else { false } }) {
                delivered += 1
            }
        }
        #expect(delivered == 2, "the wait_for_ack sends reached the receiver")
        var halfSent: [(RawTCP, rest: String)] = []
        for index in 0..<Self.stored {
            let body = #"{"destination":"later","payload":"s\#(index)","enable_offline_messaging":true}"#
            let request = Self.peerRequest(from: "rest", body: body)
            let connection = try await RawTCP.connect(port: port)
            try await connection.send(request.head)
            halfSent.append((connection, request.rest))
        }

        // Sends the fast path answers from memory (no offline flag, receiver not logged in), held likewise.
        var halfSentFast: [(RawTCP, rest: String)] = []
        for index in 0..<2 {
            let request = Self.peerRequest(from: "rest", body: #"{"destination":"nobody","payload":"f\#(index)"}"#)
            let connection = try await RawTCP.connect(port: port)
            try await connection.send(request.head)
            halfSentFast.append((connection, request.rest))
        }

        #expect(kill(server.pid, SIGTERM) == 0)

        for client in [receiver, bystander] {
            #expect(await client.frame(where: Self.isShutdownState) != nil, "connection_state 4/5")
            #expect(await client.closeCode() == 1001)
        }
        // The listener stops only after the clients were told; the requests it holds are still answered.
        #expect(await waitUntil { (try? await RawTCP.connect(port: port))?.close() == nil }, "the listener stopped")
        for (connection, rest) in halfSent + halfSentFast { try await connection.send(rest) }
        for (connection, _) in halfSentFast {
            #expect(await connection.statuses() == [200], "in-flight fast-path send: \(connection.text)")
        }
        var stored: [String] = []
        for (index, (connection, _)) in halfSent.enumerated() {
            #expect(await connection.statuses() == [200], "in-flight offline send \(index): \(connection.text)")
            if Self.answerCode(connection) == "message_offline" { stored.append("s\(index)") }
        }
        #expect(stored.count == Self.stored, "every offline send was stored")
        for connection in waiting {
            #expect(await connection.statuses().count == 1, "the wait_for_ack send was answered: \(connection.text)")
        }
        #expect(await server.exitStatus() == 0, "exit status; output: \(server.text)")

        // Nothing acknowledged is lost: a restart on the same store delivers every stored message.
        let restarted = try ServerProcess(serve: arguments)
        defer { restarted.stop() }
        let later = try await RawSocket.connect("ws://127.0.0.1:\(try await restarted.listeningPort())/v1/ws")
        #expect(try await later.login(app: Self.appID, user: "later", token: nil) == 0)
        var received: [String] = []
        for _ in 0..<stored.count {
            guard case .event(_, .peerMessage(_, _, let payload, _, _))? = await later.frame(where: {
                if case .event(_, .peerMessage) = $0 { true } else { false }
            }) else { break }
            if case .text(let text) = payload { received.append(text) }
        }
        #expect(received.sorted() == stored.sorted())
    }
}
