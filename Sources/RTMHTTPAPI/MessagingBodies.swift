/// Body of `POST …/peer_messages` (unknown fields are ignored, known ones must have their type).
struct PeerMessageBody: Decodable {
    var destination: String?
    var payload: String?
    var enable_offline_messaging: Bool?
    var enable_historical_messaging: Bool?
}

/// Body of `POST …/channel_messages`.
struct ChannelMessageBody: Decodable {
    var channel_name: String?
    var payload: String?
    var enable_historical_messaging: Bool?
}
