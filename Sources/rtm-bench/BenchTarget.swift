import AsyncHTTPClient
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import RTMClient
import Synchronization

/// The server under test: swift-rtm or nginx+nchan, driven through the same two operations.
enum BenchTarget: String, CaseIterable, Sendable {
    case rtm, nchan, trivial

    /// POST target for publishing `payload` to `channel`.
    func publishRequest(base: String, channel: String, payload: String, credentials: BenchCredentials) -> HTTPClientRequest {
        switch self {
        case .rtm:
            var request = HTTPClientRequest(url: "\(base)/dev/v2/project/\(credentials.appID)/rtm/users/bench/channel_messages")
            request.method = .POST
            request.headers.add(name: "Authorization", value: credentials.basic)
            request.body = .bytes(ByteBuffer(string: #"{"channel_name":"\#(channel)","payload":"\#(payload)"}"#))
            return request
        case .nchan:
            var request = HTTPClientRequest(url: "\(base)/pub/\(channel)")
            request.method = .POST
            request.body = .bytes(ByteBuffer(string: payload))
            return request
        case .trivial:
            var request = HTTPClientRequest(url: "\(base)/trivial")
            request.method = .POST
            request.body = .bytes(ByteBuffer(string: payload))
            return request
        }
    }

    /// The WebSocket URL a subscriber of `channel` opens.
    func subscribeURL(base: String, channel: String) -> String {
        let ws = base.replacingOccurrences(of: "http://", with: "ws://")
        switch self {
        case .rtm, .trivial: return "\(ws)/v1/ws"
        case .nchan: return "\(ws)/sub/\(channel)"
        }
    }

    /// Text frames the subscriber sends after connecting (swift-rtm: login then join).
    func subscribeHandshake(channel: String, user: String, credentials: BenchCredentials) -> [String] {
        switch self {
        case .rtm, .trivial:
            [#"{"op":"login","id":1,"app_id":"\#(credentials.appID)","user_id":"\#(user)"}"#,
             #"{"op":"join","id":2,"channel":"\#(channel)"}"#]
        case .nchan:
            []
        }
    }

    /// The published payload inside a received frame, if the frame is a message.
    func payload(of frame: String) -> Substring? {
        switch self {
        case .rtm, .trivial:
            guard frame.contains(#""event":"channel_message""#), let start = frame.range(of: #""text":""#) else { return nil }
            let rest = frame[start.upperBound...]
            return rest.firstIndex(of: "\"").map { rest[..<$0] }
        case .nchan:
            return frame[...]
        }
    }
}

/// How the benchmark authenticates to swift-rtm (an app without certificate, and a Basic credential).
struct BenchCredentials: Sendable {
    var appID: String
    var customerID: String
    var secret: String
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
import ArgumentParser
extension BenchTarget: ExpressibleByArgument {}
