import AgoraToken
import Foundation

/// The 006 and 007 token readers under fuzzing. The first input byte picks how the rest becomes a token,
/// so the fuzzer reaches the binary layouts behind the base64 and zlib wrapping as well as the wrapping:
///
/// - 006: `0` the rest is the decoded content (`"006" + app id + base64(rest)`), `1` the rest is the
///   token's text, `2` the rest is a user id: a token built for it must verify.
/// - 007: `0` the rest is the inflated payload (`"007" + base64(deflate(rest))`), `1` the rest is the
///   deflated stream, `2` the rest is the token's text, `3` the rest is a user id: a token built for it
///   must verify and name that user.
enum TokenFuzzing {
    static let appID = "970CA35de60c44645bbae8a215061b33"
    static let certificate = "5CFd2fd1755d40ecb72977518be15d3b"
    static let userID = "fuzz-user"
    static let now: UInt32 = 1_700_000_000

    static func run006(_ input: UnsafeBufferPointer<UInt8>) {
        guard let mode = input.first else { return }
        let rest = Array(input.dropFirst())
        switch mode % 3 {
        case 0: verify("006" + appID + Data(rest).base64EncodedString())
        case 1: verify(String(decoding: rest, as: UTF8.self))
        default:
            let user = builtUserID(rest)
            let token = RTMToken.build006(appID: appID, certificate: certificate, userID: user, privilegeExpiredTs: 0,
                                          builtAt: now, salt: 1)
            expectVerified(token, user: user)
        }
    }

    static func run007(_ input: UnsafeBufferPointer<UInt8>) {
        guard let mode = input.first else { return }
        let rest = Array(input.dropFirst())
        switch mode % 4 {
        case 0: verify("007" + Data(Zlib.compress(rest)).base64EncodedString())
        case 1: verify("007" + Data(rest).base64EncodedString())
        case 2: verify(String(decoding: rest, as: UTF8.self))
        default:
            let user = builtUserID(rest)
            let token = RTMToken.build007(appID: appID, certificate: certificate, userID: user, expireSeconds: 3600,
                                          issuedAt: now, salt: 1)
            expectVerified(token, user: user)
            precondition(RTMToken.embeddedUserID(of: token) == user, "a built 007 token names another user")
        }
    }

    /// Reads `token` as a login and as a REST token would be read.
    private static func verify(_ token: String) {
        _ = RTMToken.verify(token, appID: appID, certificate: certificate, userID: userID, now: Int64(now))
        _ = RTMToken.embeddedUserID(of: token)
    }

    private static func expectVerified(_ token: String, user: String) {
        switch RTMToken.verify(token, appID: appID, certificate: certificate, userID: user, now: Int64(now)) {
        case .success(let verified): precondition(verified.userID == user, "a built token verified for another user")
        case .failure(let rejection): preconditionFailure("a built token was refused: \(rejection)")
        }
    }

    /// A user id from the input: any text of at most 64 UTF-8 bytes (the longest RTM user id).
    private static func builtUserID(_ bytes: [UInt8]) -> String {
        var text = String(decoding: bytes, as: UTF8.self)
        while text.utf8.count > 64 { text.removeLast() }
        return text
    }
}
