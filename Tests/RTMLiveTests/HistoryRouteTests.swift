import Foundation
import GRDB
import RTMClient
import RTMCore
@testable import RTMStorePostgres
import RTMTestSupport
import Testing

/// History around sends: recorded before the message is sent, so a failed write delivers nothing and
/// leaves no acknowledgement slot behind; and `history/count` decoding its query once (issue 10, item 8).
@Suite struct HistoryRouteTests {
    /// Makes every history write of the running server fail (its table is gone), as a broken store would.
    static func breakHistory(_ server: TestServer) async throws {
        let configuration = server.application.configuration
        if let url = configuration.databaseURL {
            let store = try PostgresStore(url: url)
            let running = Task { await store.run() }
            defer { running.cancel() }
            try await store.client.query("DROP TABLE history_message").drain()
        } else {
            let path = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("rtm.sqlite").path
            let queue = try DatabaseQueue(path: path)
            try await queue.write { try $0.execute(sql: "DROP TABLE history_message") }
            try queue.close()
        }
    }

    static func isMessage(_ event: RTMChannelEvent) -> Bool {
        if case .message = event { true } else { false }
    }

    @Test(arguments: [StoreBackend.sqlite, .postgres])
    func aFailedHistoryWriteDeliversNothingAndLeavesNoAck(_ backend: StoreBackend) async throws {
        try await TestServer.with(backend: backend) { server in
            let bob = LiveSDKTests.client(server), carol = LiveSDKTests.client(server)
            try await bob.login(userID: "bob", token: nil)
            try await carol.login(userID: "carol", token: nil)
            let bobRoom = bob.channel("room")
            try await bobRoom.join()
            try await carol.channel("room").join()
            try await Self.breakHistory(server)
            let router = server.application.router

            // REST, waiting for the ack: refused before anything was delivered, and no ack slot stays open.
            let rest = try await server.post("rtm/users/alice/peer_messages?wait_for_ack=true", app: TestServer.openAppID,
                                             body: #"{"destination":"bob","payload":"lost","enable_historical_messaging":true}"#)
            #expect(rest.status == 500 && rest.code == "internal_error")
            #expect(router.pendingAckCount == 0)
            // The SDK's send_peer with history: FAILURE, and no slot either.
            let sdk = await carol.sendMessage("lost too", toPeer: "bob", options: SendMessageOptions(enableHistoricalMessaging: true))
            #expect(sdk.code == .failure)
            #expect(router.pendingAckCount == 0)
            // Channel messages, by REST and by the SDK.
            let channel = try await server.post("rtm/users/alice/channel_messages", app: TestServer.openAppID,
                                                body: #"{"channel_name":"room","payload":"lost","enable_historical_messaging":true}"#)
            #expect(channel.status == 500 && channel.code == "internal_error")
            await #expect(throws: ChannelMessageErrorCode.failure) { try await carol.channel("room").send("lost too", history: true) }

            // Sends without history still work, and they are the first messages the receiver sees.
            #expect(await carol.sendMessage("after", toPeer: "bob").code == .ok)
            #expect(await first(bob.peerMessages)?.text == "after")
            try await carol.channel("room").send("after")
            guard case .message("carol", .text("after"), _, _)? = await first(bobRoom.events, where: Self.isMessage) else {
                Issue.record("the first channel message bob sees is not the one sent after the failures")
                return
            }
            #expect(router.pendingAckCount == 0)
        }
    }

    /// Hummingbird's query parameters are decoded once already: `%2541` is `%41`, not `A`.
    @Test func countDecodesItsParametersOnce() async throws {
        let clock = ManualClock(startingAt: 1_564_622_530_000)  // 2019-08-01T01:22:10Z
        try await TestServer.with(TestServer.configuration(), clock: clock) { server in
            let sent = try await server.post("rtm/users/a%2541/peer_messages", app: TestServer.openAppID,
                                             body: #"{"destination":"b%42","payload":"x","enable_historical_messaging":true}"#)
            #expect(sent.status == 200)
            let times = "start_time=2019-08-01T01:22:10Z&end_time=2019-08-01T01:24:10Z"
            for query in ["source=a%2541", "destination=b%2542", "source=%22a%2541%22", "source=a%2541&destination=b%2542"] {
                let count = try await LivePersistenceTests.get(server, "rtm/message/history/count?\(query)&\(times)", app: TestServer.openAppID)
                #expect(count.status == 200 && count.json["count"] as? Int == 1, "\(query)")
            }
            let twiceDecoded = try await LivePersistenceTests.get(server, "rtm/message/history/count?source=aA&\(times)", app: TestServer.openAppID)
            #expect(twiceDecoded.json["count"] as? Int == 0)
        }
    }
}
