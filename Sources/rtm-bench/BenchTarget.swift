import AgoraToken
import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1

/// The server under test: swift-rtm or nginx+nchan, driven through the same two operations.
enum BenchTarget: String, CaseIterable, Sendable {
    case rtm, nchan, trivial

    /// The POST that publishes to `channel`: its head, and its body for a payload.
    func publishRequest(endpoint: Endpoint, channel: String, credentials: BenchCredentials) -> PublishRequest {
        var headers = HTTPHeaders([("Host", "\(endpoint.host):\(endpoint.port)")])
        let uri: String
        let makeBody: @Sendable (String) -> ByteBuffer
        switch self {
        case .rtm:
            uri = "/dev/v2/project/\(credentials.appID)/rtm/users/bench/channel_messages"
            headers.add(name: "Authorization", value: credentials.basic)
            headers.add(name: "Content-Type", value: "application/json")
            makeBody = { ByteBuffer(string: #"{"channel_name":"\#(channel)","payload":"\#($0)"}"#) }
        case .nchan:
            uri = "/pub/\(channel)"
            makeBody = { ByteBuffer(string: $0) }
        case .trivial:
            uri = "/trivial"
            makeBody = { ByteBuffer(string: $0) }
        }
        return PublishRequest(head: HTTPRequestHead(version: .http1_1, method: .POST, uri: uri, headers: headers),
                              makeBody: makeBody)
    }

    /// The path a subscriber of `channel` opens as a WebSocket.
    func subscribePath(channel: String) -> String {
        switch self {
        case .rtm, .trivial: "/v1/ws"
        case .nchan: "/sub/\(channel)"
        }
    }

    /// Text frames the subscriber sends after connecting (swift-rtm: login then join).
    /// What a subscriber sends after the upgrade: log in and join `channel` (only log in without one).
    func subscribeHandshake(channel: String?, user: String, credentials: BenchCredentials) -> [String] {
        switch self {
        case .rtm, .trivial:
            [Self.login(user: user, credentials: credentials)] + (channel.map { [#"{"op":"join","id":2,"channel":"\#($0)"}"#] } ?? [])
        case .nchan:
            []
        }
    }

    private static func login(user: String, credentials: BenchCredentials) -> String {
        guard let certificate = credentials.certificate else {
            return #"{"op":"login","id":1,"app_id":"\#(credentials.appID)","user_id":"\#(user)"}"#
        }
        let token = RTMToken.build007(appID: credentials.appID, certificate: certificate, userID: user, expireSeconds: 86_400,
                                      issuedAt: UInt32(nowNanoseconds() / 1_000_000_000))
        return #"{"op":"login","id":1,"app_id":"\#(credentials.appID)","user_id":"\#(user)","token":"\#(token)"}"#
    }

    /// The frame a subscriber sends before closing (swift-rtm: `logout`, which ends the session at once).
    var goodbye: String? {
        switch self {
        case .rtm, .trivial: #"{"op":"logout","id":3}"#
        case .nchan: nil
        }
    }

    /// Where the published payload lies in a received text frame (indices of its readable bytes), if the frame is a message.
    func payloadRange(of frame: ByteBuffer) -> Range<Int>? {
        let bytes = frame.readableBytesView
        switch self {
        case .rtm, .trivial:
            guard frame.offset(of: Self.channelMessage) != nil, let text = frame.offset(of: Self.textField) else { return nil }
            let start = bytes.startIndex + text + Self.textField.count
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\"")) ?? bytes.endIndex
            return start..<end
        case .nchan:
            return bytes.startIndex..<bytes.endIndex
        }
    }

    private static let channelMessage = Array(#""event":"channel_message""#.utf8)
    private static let textField = Array(#""text":""#.utf8)
}

extension ByteBuffer {
    /// Where `needle` (not empty) first occurs in the readable bytes, as an offset from the reader index.
    func offset(of needle: [UInt8]) -> Int? {
        withUnsafeReadableBytes { haystack in
            needle.withUnsafeBytes { needle in
                guard let base = haystack.baseAddress, let first = needle.first, haystack.count >= needle.count else { return nil }
                for start in 0...(haystack.count - needle.count) where haystack[start] == first {
                    if memcmp(base + start, needle.baseAddress!, needle.count) == 0 { return start }
                }
                return nil
            }
        }
    }
}

/// How the benchmark authenticates to swift-rtm (an app without certificate, and a Basic credential).
struct BenchCredentials: Sendable {
    var appID: String
    var customerID: String
    var secret: String
    /// The app's certificate, when its clients log in with tokens (swift-rtm subscribers then build a 007 token each).
    var certificate: String? = nil
    var basic: String { "Basic " + Data("\(customerID):\(secret)".utf8).base64EncodedString() }
}

/// Wall-clock nanoseconds, for latency stamps carried in payloads.
func nowNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// CPU seconds (user + system) a process has used, from /proc.
func cpuSeconds(pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Resident memory of a process in bytes.
func residentBytes(pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb * 1024
}
extension BenchTarget: ExpressibleByArgument {}
