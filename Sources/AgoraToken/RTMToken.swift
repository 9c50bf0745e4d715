/// Verifies and builds Agora RTM login tokens in the 006 and 007 formats.
///
/// Verification follows the check order of `tokens.md` §4, so the first defect found names the
/// rejection. Signatures are compared in constant time; tokens are never logged here.
public enum RTMToken {
    /// Verifies `token` for a login of `userID` to `appID` at Unix time `now`.
    /// - Returns: what the token grants, or the first reason it fails.
    public static func verify(_ token: String, appID: String, certificate: String, userID: String,
                              now: Int64) -> Result<VerifiedToken, TokenRejection> {
        let trimmed = token.trimmingSpaces
        switch trimmed.prefix(3) {
        case "006":
            guard let parsed = AccessToken006.parse(trimmed) else { return .failure(.malformed) }
            return parsed.verify(appID: appID, certificate: certificate, userID: userID, now: now)
        case "007":
            guard let parsed = AccessToken2.parse(trimmed) else { return .failure(.malformed) }
            return parsed.verify(appID: appID, certificate: certificate, userID: userID, now: now)
        default:
            return .failure(.unsupportedVersion)
        }
    }

    /// The user id a 007 token names in its RTM service, without verifying anything
    /// (for `Authorization: agora token=…`, which sends no uid). `nil` for 006 or unreadable tokens.
    public static func embeddedUserID(of token: String) -> String? {
        let trimmed = token.trimmingSpaces
        guard trimmed.hasPrefix("007") else { return nil }
        return AccessToken2.parse(trimmed)?.rtmUserID
    }

    /// Builds a 007 RTM token as `RtmTokenBuilder2.build_token` does: one RTM service whose login
    /// privilege lasts as long as the token.
    public static func build007(appID: String, certificate: String, userID: String, expireSeconds: UInt32,
                                issuedAt: UInt32, salt: UInt32 = UInt32.random(in: 1...99_999_999)) -> String {
        AccessToken2.build(appID: appID, certificate: certificate, issueTs: issuedAt, expire: expireSeconds, salt: salt,
                           services: [.init(type: AccessToken2.rtmServiceType,
                                            privileges: [AccessToken2.rtmLoginPrivilege: expireSeconds], userID: userID)])
    }

    /// Builds a combined RTC + RTM 007 token as `RtcTokenBuilder2.build_token_with_rtm` does for the
    /// publisher role: RTC join/publish privileges at `privilegeExpire`, RTM login at `expireSeconds`.
    public static func build007WithRTC(appID: String, certificate: String, channelName: String, userID: String,
                                       expireSeconds: UInt32, privilegeExpire: UInt32, issuedAt: UInt32,
                                       salt: UInt32 = UInt32.random(in: 1...99_999_999)) -> String {
        let rtc = AccessToken2.Service(type: AccessToken2.rtcServiceType,
                                       privileges: [1: privilegeExpire, 2: privilegeExpire, 3: privilegeExpire, 4: privilegeExpire],
                                       userID: userID, channelName: channelName)
        let rtm = AccessToken2.Service(type: AccessToken2.rtmServiceType,
                                       privileges: [AccessToken2.rtmLoginPrivilege: expireSeconds], userID: userID)
        return AccessToken2.build(appID: appID, certificate: certificate, issueTs: issuedAt, expire: expireSeconds,
                                  salt: salt, services: [rtc, rtm])
    }

    /// Builds a 006 RTM token byte for byte as `RtmTokenBuilder.buildToken` does; the token's own
    /// lifetime is always 24 h from `builtAt`, and `privilegeExpiredTs` (absolute, 0 = none) is enforced.
    public static func build006(appID: String, certificate: String, userID: String, privilegeExpiredTs: UInt32,
                                builtAt: UInt32, salt: UInt32 = UInt32.random(in: 1...99_999_999)) -> String {
        AccessToken006.build(appID: appID, certificate: certificate, userID: userID,
                             privilegeExpiredTs: privilegeExpiredTs, buildTime: builtAt, salt: salt)
    }

    /// Inflates a 007 token's payload (for tests comparing tokens independent of compression).
    public static func payload007(_ token: String) -> [UInt8]? {
        guard token.hasPrefix("007"), let compressed = StrictBase64.decode(token.dropFirst(3)) else { return nil }
        return Zlib.decompress(compressed)
    }
}

extension String {
    var trimmingSpaces: Substring {
        var view = self[...]
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return view
    }
}
