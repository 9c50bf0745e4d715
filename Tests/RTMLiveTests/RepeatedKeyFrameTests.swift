import Foundation
import RTMProtocol
import Testing

/// A client frame whose JSON repeats a key is malformed: neither value is taken (issue 10, item 7).
@Suite struct RepeatedKeyFrameTests {
    @Test func parserRefusesAFrameThatRepeatsAKey() {
        let frames = [
            #"{"op":"send_peer","id":5,"to":"bob","text":"a","to":"eve"}"#,
            #"{"op":"login","op":"logout","id":1}"#,
            #"{"op":"set_local_user_attributes","id":2,"attributes":[{"key":"k","value":"v","value":"w"}]}"#,
        ]
        for frame in frames {
            #expect(RequestParser.parse(frame.utf8) == .invalid(op: nil, id: nil, field: nil, reason: "frame repeats a key"), "\(frame)")
        }
        // The same frame without the repetition is a request.
        #expect(RequestParser.parse(#"{"op":"send_peer","id":5,"to":"bob","text":"a"}"#.utf8)
            == .request(id: 5, .sendPeer(to: "bob", payload: .text("a"), offline: false, history: false)))
    }

    /// Answered as other malformed frames are: `protocol_error`, and the session goes on.
    @Test func gatewayAnswersProtocolError() async throws {
        try await TestServer.with { server in
            let socket = try await RawSocket.connect(server.wsURL)
            #expect(try await socket.login(app: TestServer.openAppID, user: "alice", token: nil) == 0)
            try await socket.send(#"{"op":"send_peer","id":5,"to":"bob","text":"a","to":"eve"}"#)
            guard case .event(_, .protocolError)? = await socket.nextFrame() else { Issue.record("expected protocol_error"); return }
            try await socket.send(#"{"op":"send_peer","id":6,"to":"nobody","text":"a"}"#)
            guard case .reply(6, 3, _)? = await socket.nextFrame() else { Issue.record("expected PEER_UNREACHABLE"); return }
            socket.close()
        }
    }
}
