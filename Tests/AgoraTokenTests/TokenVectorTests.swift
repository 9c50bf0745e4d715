import AgoraToken
import Foundation
import Testing

/// The vectors made by Agora's own builders, kept in the repository as `Tests/Fixtures/rtm-tokens.json`
/// (a copy of the project's shared `vectors/rtm-tokens.json`, so a clone anywhere runs them).
struct TokenVectorTests {
    struct Case {
        var id: String
        var token: String
        var verify: [String: Any]
        var valid: Bool
        var reason: String
        var build: [String: Any]
    }

    static func loadCases() throws -> [Case] {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let url = tests.appendingPathComponent("Fixtures/rtm-tokens.json")
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return (document["cases"] as! [[String: Any]]).map { entry in
            let expected = entry["expected"] as! [String: Any]
            return Case(id: entry["id"] as! String, token: entry["token"] as! String, verify: entry["verify"] as! [String: Any],
                        valid: expected["valid"] as! Bool, reason: expected["reason"] as! String, build: entry["build"] as! [String: Any])
        }
    }

    @Test func everyVectorGetsItsExpectedVerdict() throws {
        let cases = try Self.loadCases()
        #expect(cases.count == 20)
        for vector in cases {
            let result = RTMToken.verify(vector.token, appID: vector.verify["app_id"] as! String,
                                         certificate: vector.verify["app_certificate"] as! String,
                                         userID: vector.verify["uid"] as! String, now: Int64(vector.verify["now"] as! Int))
            switch result {
            case .success:
                #expect(vector.valid, "\(vector.id) should be refused with \(vector.reason)")
                #expect(vector.reason == "ok", "\(vector.id)")
            case .failure(let rejection):
                #expect(!vector.valid, "\(vector.id) should be valid, got \(rejection)")
                #expect(rejection.rawValue == vector.reason, "\(vector.id)")
            }
        }
    }

    @Test func builderReproducesEveryValidVector() throws {
        let valid = try Self.loadCases().filter(\.valid)
        #expect(valid.count == 4)
        for vector in valid {
            let b = vector.build
            let app = b["app_id"] as! String, cert = b["app_certificate"] as! String, user = b["user_id"] as! String
            if vector.id.hasPrefix("006") {
                let token = RTMToken.build006(appID: app, certificate: cert, userID: user,
                                              privilegeExpiredTs: UInt32(b["privilege_expired_ts"] as! Int),
                                              builtAt: UInt32(b["build_time"] as! Int), salt: UInt32(b["salt"] as! Int))
                #expect(token == vector.token, "\(vector.id) must match byte for byte")
            } else {
                let issued = UInt32(b["issue_ts"] as! Int), expire = UInt32(b["expire"] as! Int), salt = UInt32(b["salt"] as! Int)
                let token = if let channel = b["channel_name"] as? String {
                    RTMToken.build007WithRTC(appID: app, certificate: cert, channelName: channel, userID: user, expireSeconds: expire,
                                             privilegeExpire: UInt32(b["privilege_expire"] as! Int), issuedAt: issued, salt: salt)
                } else {
                    RTMToken.build007(appID: app, certificate: cert, userID: user, expireSeconds: expire, issuedAt: issued, salt: salt)
                }
                #expect(RTMToken.payload007(token) != nil)
                #expect(RTMToken.payload007(token) == RTMToken.payload007(vector.token), "\(vector.id) must inflate to the same payload")
            }
        }
    }

    @Test func builtTokensRoundTrip() {
        let app = "970CA35de60c44645bbae8a215061b33", cert = "5CFd2fd1755d40ecb72977518be15d3b"
        let t007 = RTMToken.build007(appID: app, certificate: cert, userID: "alice", expireSeconds: 600, issuedAt: 1_800_000_000)
        #expect(RTMToken.verify(t007, appID: app, certificate: cert, userID: "alice", now: 1_800_000_100)
            == .success(VerifiedToken(version: "007", userID: "alice", expiresAt: 1_800_000_600)))
        #expect(RTMToken.verify(t007, appID: app, certificate: cert, userID: "alice", now: 1_800_000_601) == .failure(.expired))
        #expect(RTMToken.verify(t007, appID: app, certificate: cert, userID: "bob", now: 1_800_000_100) == .failure(.uidMismatch))
        #expect(RTMToken.embeddedUserID(of: t007) == "alice")
        let t006 = RTMToken.build006(appID: app, certificate: cert, userID: "alice", privilegeExpiredTs: 0, builtAt: 1_800_000_000)
        #expect(t006.count == 115)
        #expect(RTMToken.verify(t006, appID: app, certificate: cert, userID: "alice", now: 1_800_000_100)
            == .success(VerifiedToken(version: "006", userID: "alice", expiresAt: 1_800_086_400)))
        #expect(RTMToken.verify(" " + t006 + "\n", appID: app, certificate: cert, userID: "alice", now: 1_800_000_100).isSuccess)
        #expect(RTMToken.verify(t006, appID: app, certificate: "5CFd2fd1755d40ecb72977518be15d3B", userID: "alice",
                                now: 1_800_000_100) == .failure(.badSignature))
        // A stray character anywhere is malformed, never silently skipped.
        var mangled = Array(t007)
        mangled[10] = "*"
        #expect(RTMToken.verify(String(mangled), appID: app, certificate: cert, userID: "alice", now: 1_800_000_100) == .failure(.malformed))
        #expect(RTMToken.verify("", appID: app, certificate: cert, userID: "alice", now: 0) == .failure(.unsupportedVersion))
        #expect(RTMToken.verify("007", appID: app, certificate: cert, userID: "alice", now: 0) == .failure(.malformed))
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
}
