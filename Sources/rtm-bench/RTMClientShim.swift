import RTMClient

/// A logged-in SDK client that acknowledges what it receives (the ack scenario's receiver).
struct RTMClientShim: Sendable {
    let client: RTMClient

    init(url: String, appID: String) {
        client = RTMClient(serverURL: url.replacingOccurrences(of: "http://", with: "ws://") + "/v1/ws", appID: appID)
    }

    func login(_ user: String) async throws {
        try await client.login(userID: user, token: nil)
        Task { for await _ in client.peerMessages {} }   // drain; acks are automatic
    }

    func close() async { await client.logout() }
}
