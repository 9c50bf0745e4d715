import RTMGateway

/// The config file's `websocket:` section: the gateway's timers and buffer bounds
/// (OPERATIONS.md, "WebSocket bounds"). Every key is optional; each value is a whole number ≥ 1.
extension ConfigurationLoader {
    /// One key of the section and the gateway setting it writes.
    struct WebSocketKey: Sendable {
        let name: String
        let apply: @Sendable (Int, inout GatewayConfiguration) -> Void
    }

    static let webSocketKeys: [WebSocketKey] = [
        WebSocketKey(name: "login_timeout_seconds") { $1.loginTimeout = .seconds($0) },
        WebSocketKey(name: "close_timeout_seconds") { $1.closeTimeout = .seconds($0) },
        WebSocketKey(name: "max_queued_frames") { $1.maximumQueuedFrames = $0 },
        WebSocketKey(name: "max_queued_bytes") { $1.maximumQueuedBytes = $0 },
        WebSocketKey(name: "max_unacked_peer_messages") { $1.maximumUnackedPeerMessages = $0 },
        WebSocketKey(name: "max_unacked_peer_bytes") { $1.maximumUnackedPeerBytes = $0 },
        WebSocketKey(name: "max_channel_replay_bytes") { $1.maximumReplayedChannelBytes = $0 },
        WebSocketKey(name: "max_inbox_bytes") { $1.maximumInboxBytes = $0 },
    ]

    /// Applies the `websocket:` mapping, refusing unknown keys and values below 1 by name.
    static func applyWebSocket(_ value: Any, to gateway: inout GatewayConfiguration) throws {
        guard let section = value as? [String: Any] else {
            throw ConfigurationError(key: "websocket", problem: "must be a mapping")
        }
        let keys = Dictionary(uniqueKeysWithValues: webSocketKeys.map { ($0.name, $0) })
        for name in section.keys.sorted() {
            guard let key = keys[name] else { throw ConfigurationError(key: "websocket.\(name)", problem: "unknown key") }
            let number = try int(section[name]!, key: "websocket.\(name)")
            guard number >= 1 else { throw ConfigurationError(key: "websocket.\(name)", problem: "must be at least 1") }
            key.apply(number, &gateway)
        }
    }
}
