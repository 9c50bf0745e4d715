import RTMCore
@testable import RTMHTTPAPI
import Testing

/// The send rules as a value: path `user_id`, `wait_for_ack` and body in, a typed command or the
/// refusal (status, code, message) out, with no server. Both REST routes answer from this decoder
/// (RESTTableTests runs the rules live with the fast path on and off).
@Suite struct SendCommandTests {
    static let userB = UserID("userB")!

    static func decode(_ body: String, route: SendCommand.Route = .peer, user: String = "userA", wait: String? = nil,
                       principal: RESTPrincipal = .customer) -> Result<SendCommand, APIError> {
        SendCommand.decode(route, userID: user, waitForAck: wait, body: Array(body.utf8), principal: principal)
    }

    /// The refusal's message, or `nil` when the send was accepted.
    static func refusal(_ result: Result<SendCommand, APIError>) -> String? {
        if case .failure(let error) = result { "\(error.status.code) \(error.code): \(error.message)" } else { nil }
    }

    @Test func aPlainPeerSendNeedsOnlyMemory() throws {
        let command = try Self.decode(#"{"destination":"userB","payload":"Hi","extra":[1,{"x":null}]}"#).get()
        #expect(command == SendCommand(from: UserID("userA")!, target: .peer(Self.userB, offline: false, waitForAck: false),
                                       content: .text("Hi"), history: false))
        #expect(command.isMemoryOnly)
    }

    @Test func storageOrAnAckNeedMoreThanMemory() throws {
        let offline = try Self.decode(#"{"destination":"userB","payload":"Hi","enable_offline_messaging":true}"#).get()
        let history = try Self.decode(#"{"channel_name":"room","payload":"Hi","enable_historical_messaging":true}"#, route: .channel).get()
        let acked = try Self.decode(#"{"destination":"userB","payload":"Hi"}"#, wait: "TRUE").get()
        #expect(!offline.isMemoryOnly && !history.isMemoryOnly && !acked.isMemoryOnly)
        #expect(acked.target == .peer(Self.userB, offline: false, waitForAck: true))
        let nulls = try Self.decode(#"{"destination":"userB","payload":"Hi","enable_offline_messaging":null}"#).get()
        #expect(nulls.isMemoryOnly, "null is absent")
    }

    @Test func theSenderIsDecodedAndMustBeTheTokensUser() throws {
        #expect(try Self.decode(#"{"destination":"userB","payload":"Hi"}"#, user: "a%25b").get().from == UserID("a%b"))
        #expect(Self.refusal(Self.decode(#"{}"#, user: "%20a"))?.hasPrefix("400 invalid_parameter: user_id") == true)
        #expect(Self.refusal(Self.decode(#"{}"#, user: ""))?.hasPrefix("400 invalid_parameter: user_id") == true)
        #expect(Self.refusal(Self.decode(#"{"destination":"userB","payload":"Hi"}"#, user: "userC", principal: .user(UserID("userA")!)))?
            .hasPrefix("401 unauthorized") == true)
        // The sender is checked before the body: a bad body from the wrong user is 401.
        #expect(Self.refusal(Self.decode("not json", user: "userC", principal: .user(UserID("userA")!)))?.hasPrefix("401") == true)
    }

    /// One grammar: strict JSON, an object, no key repeated, whichever route reads it.
    @Test(arguments: [
        (#"{"destination":"userB","payload":"Hi",}"#, "The body must be a JSON object."),
        ("\u{FEFF}" + #"{"destination":"userB","payload":"Hi"}"#, "The body must be a JSON object."),
        ("[1,2]", "The body must be a JSON object."),
        ("destination=userB", "The body must be a JSON object."),
        (#"{"destination":"userB","payload":"Hi","destination":"userC"}"#, "The body must not repeat a key in an object."),
        (#"{"destination":"userB","payload":"Hi","x":{"a":1,"a":2}}"#, "The body must not repeat a key in an object."),
        (#"{"destination":5,"payload":"Hi"}"#, "destination has the wrong type."),
        (#"{"destination":"userB","payload":{"a":1}}"#, "payload has the wrong type."),
        (#"{"destination":"userB","payload":"Hi","enable_offline_messaging":"yes"}"#, "enable_offline_messaging has the wrong type."),
        (#"{"destination":"userB","payload":"Hi","enable_historical_messaging":1}"#, "enable_historical_messaging has the wrong type."),
        (#"{"payload":"Hi"}"#, "destination must be 1-64 characters from the allowed set, without leading or trailing spaces."),
        (#"{"destination":"userB ","payload":"Hi"}"#, "destination must be 1-64 characters from the allowed set, without leading or trailing spaces."),
        (#"{"destination":"userB","payload":""}"#, "payload must be a non-empty string of at most 32768 UTF-8 bytes."),
    ])
    func peerBodiesAreRefusedByName(body: String, message: String) {
        #expect(Self.refusal(Self.decode(body)) == "400 invalid_parameter: \(message)")
    }

    @Test func channelSendsFollowTheirOwnFields() throws {
        let command = try Self.decode(#"{"channel_name":"room","payload":"Hi","destination":5}"#, route: .channel).get()
        #expect(command.target == .channel(ChannelName("room")!) && command.isMemoryOnly, "destination is not a channel field")
        #expect(Self.refusal(Self.decode(#"{"payload":"Hi"}"#, route: .channel))?.contains("channel_name must be") == true)
        #expect(Self.refusal(Self.decode(#"{"channel_name":7,"payload":"Hi"}"#, route: .channel))?.contains("channel_name has the wrong type") == true)
    }

    @Test func waitForAckTakesBooleansAndDigits() throws {
        for (value, expected) in [("true", true), ("False", false), ("1", true), ("0", false)] {
            let command = try Self.decode(#"{"destination":"userB","payload":"Hi"}"#, wait: value).get()
            #expect(command.target == .peer(Self.userB, offline: false, waitForAck: expected), "\(value)")
        }
        #expect(Self.refusal(Self.decode(#"{"destination":"userB","payload":"Hi"}"#, wait: "maybe"))?.contains("wait_for_ack") == true)
        #expect(Self.refusal(Self.decode(#"{"payload":"Hi"}"#, wait: "maybe"))?.contains("destination") == true, "fields first")
    }
}
