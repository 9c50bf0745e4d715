import AgoraToken
import Benchmark
import Foundation
import NIOCore
import RTMCore
import RTMGateway
import RTMProtocol

/// A sink that only counts, so fan-out cost is the router's and the encoder's.
final class CountingSink: SessionSink {
    func enqueueEvent(_ body: ByteBuffer, kind: EventKind) -> Bool { true }
    func terminate(_ reason: SessionTermination) {}
}

let appID = "970CA35de60c44645bbae8a215061b33"
let certificate = "5CFd2fd1755d40ecb72977518be15d3b"

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(3))

    let token007 = RTMToken.build007(appID: appID, certificate: certificate, userID: "alice", expireSeconds: 86_400,
                                     issuedAt: 1_800_000_000)
    let token006 = RTMToken.build006(appID: appID, certificate: certificate, userID: "alice", privilegeExpiredTs: 0,
                                     builtAt: 1_800_000_000)
    Benchmark("Verify 007 token") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(RTMToken.verify(token007, appID: appID, certificate: certificate, userID: "alice", now: 1_800_000_100))
        }
    }
    Benchmark("Verify 006 token") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(RTMToken.verify(token006, appID: appID, certificate: certificate, userID: "alice", now: 1_800_000_100))
        }
    }

    let encoder = GatewayEventEncoder()
    let event = OutboundEvent.channelMessage(channel: ChannelName("lobby")!, from: UserID("alice")!, messageID: "m-1",
                                             content: .text(String(repeating: "x", count: 64)), serverTimestamp: 1_800_000_000_000)
    Benchmark("Encode a channel_message frame") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(encoder.encodeBody(event)) }
    }

    // The body of a REST send and a client frame: the hand-written parser against Foundation's decoder.
    let restBody = Array(#"{"channel_name":"lobby","payload":"\#(String(repeating: "x", count: 64))"}"#.utf8)
    let frame = Array(#"{"op":"send_channel","id":42,"channel":"lobby","text":"hello there"}"#.utf8)
    Benchmark("Parse a REST send body (JSONParser)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(JSONValue.parse(restBody)) }
    }
    Benchmark("Parse a REST send body (Foundation JSONDecoder)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try? JSONDecoder().decode(JSONValue.self, from: Data(restBody))) }
    }
    Benchmark("Parse a client frame (RequestParser)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(RequestParser.parse(frame)) }
    }

    Benchmark("Router fan-out to 1,000 members", configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal])) { benchmark in
        let router = Router(clock: SystemClock(), encoder: encoder)
        let app = AppID(appID)!, channel = ChannelName("lobby")!
        for index in 0..<1_000 {
            let session = RouterSession(appID: app, userID: UserID("u\(index)")!, sessionID: "s\(index)", sink: CountingSink())
            router.login(session)
            _ = router.join(session, channel: channel)
        }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(router.sendChannel(app: app, channel: channel, from: UserID("pub")!, content: .text("hello")))
        }
    }
}
