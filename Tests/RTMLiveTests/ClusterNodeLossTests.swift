import Foundation
import NIOCore
import RTMClient
import RTMProtocol
import RTMTestSupport
import Testing

/// A node of a cluster killed with SIGKILL (two `rtm serve` child processes on one throwaway
/// PostgreSQL, short leases): the other node notices when the lease runs out, its users become
/// OFFLINE to everyone and leave their channels, a send waiting for their ack is never answered
/// `message_delivered`, and sends to them are `message_offline` from then on.
@Suite struct ClusterNodeLossTests {
    static let appID = "0123456789abcdef0123456789abcdef"
    static let authorization = "Basic " + Data("loss-customer:loss-secret-123456".utf8).base64EncodedString()

    /// A REST peer message through `port`; its status and `code`.
    static func peer(port: Int, to user: String, payload: String, query: String = "") async throws -> (status: Int, code: String?) {
        var request = HTTPClientRequestBuilder.get("http://127.0.0.1:\(port)/dev/v2/project/\(appID)/rtm/users/backend/peer_messages\(query)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: authorization)
        request.body = .bytes(ByteBuffer(string: #"{"destination":"\#(user)","payload":"\#(payload)"}"#))
        let result = try await HTTPClientRequestBuilder.run(request)
        return (result.status, result.code)
    }

    @Test func aKilledNodesUsersGoOfflineEverywhere() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rtm-loss-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("rtm.yaml").path
        try """
        ack_timeout_seconds: 60
        node_lease_seconds: 2
        node_lease_renewal_seconds: 1
        apps:
          - app_id: \(Self.appID)
        customers:
          - id: loss-customer
            secret: loss-secret-123456

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let databaseURL = try await StoreBackend.freshPostgresDatabase()
        func node(_ index: Int) throws -> ServerProcess {
            try ServerProcess(serve: ["--port", "0", "--data-dir", directory.appendingPathComponent("data-\(index)").path, "--config", config,
                                      "--database-url", databaseURL, "--node-id", "node-\(index)"])
        }
        let survivor = try node(1)
        defer { survivor.stop() }
        let doomed = try node(2)
        defer { doomed.stop() }
        let survivorPort = try await survivor.listeningPort(), doomedPort = try await doomed.listeningPort()

        let watcher = RTMClient(serverURL: "ws://127.0.0.1:\(survivorPort)/v1/ws", appID: Self.appID)
        try await watcher.login(userID: "watcher", token: nil)
        let room = watcher.channel("room")
        try await room.join()
        let victim = try await RawSocket.connect("ws://127.0.0.1:\(doomedPort)/v1/ws")
        #expect(try await victim.login(app: Self.appID, user: "victim", token: nil) == 0)
        try await victim.send(String(decoding: ClientRequest.join(channel: "room").encode(id: 2), as: UTF8.self))
        guard case .reply(2, 0, _)? = await victim.frame(where: { if case .reply = $0 { true } else { false } }) else {
            Issue.record("the victim could not join")
            return
        }
        #expect(await waitUntil { (try? await watcher.queryPeersOnlineStatus(["victim"])) == ["victim": .online] }, "seen across nodes")
        try await watcher.subscribePeersOnlineStatus(["victim"])
        #expect(await waitUntil { (try? await room.members().sorted()) == ["victim", "watcher"] })

        // A send that waits for the victim's ack; the victim never acks (a raw socket does not).
        let waiting = Task { try await Self.peer(port: survivorPort, to: "victim", payload: "never acked", query: "?wait_for_ack=true") }
        guard case .event(_, .peerMessage)? = await victim.frame(where: { if case .event(_, .peerMessage) = $0 { true } else { false } }) else {
            Issue.record("the victim did not get the message")
            return
        }
        kill(doomed.pid, SIGKILL)

        // The lease (2 s) runs out and the survivor's sweep (every 1 s) reports the loss.
        let left = await first(room.events, within: .seconds(20), where: { $0 == .memberLeft("victim") })
        #expect(left == .memberLeft("victim"), "the victim left the channel")
        let offline = await first(watcher.events, within: .seconds(20), where: {
            if case .peersOnlineStatus(let statuses) = $0 { statuses.contains { $0.userID == "victim" && $0.state == 2 } } else { false }
        })
        #expect(offline != nil, "watchers see OFFLINE")
        let answer = try await waiting.value
        #expect(answer.status == 408 && answer.code != "message_delivered", "never delivered for a message nobody acked: \(answer)")
        #expect(try await Self.peer(port: survivorPort, to: "victim", payload: "later", query: "?wait_for_ack=true").code == "message_offline")
        #expect(survivor.text.contains("node node-2 lost"), "the survivor logged the loss")
        await watcher.logout()
    }
}
