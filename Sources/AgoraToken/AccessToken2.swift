/// The 007 ("AccessToken2") format (`tokens.md` §3).
struct AccessToken2 {
    /// One service entry; only the fields a verifier needs are kept.
    struct Service: Equatable {
        var type: UInt16
        var privileges: [UInt16: UInt32]
        /// The RTM user id (type 2) or RTC uid (type 1); empty for others.
        var userID: String
        var channelName: String = ""
    }

    static let rtmServiceType: UInt16 = 2
    static let rtcServiceType: UInt16 = 1
    static let rtmLoginPrivilege: UInt16 = 1

    var signature: [UInt8]
    /// The exact bytes after the signature; what the HMAC covers.
    var signingInfo: [UInt8]
    var appID: String
    var issueTs: UInt32
    var expire: UInt32
    var salt: UInt32
    var services: [Service]

    static func parse(_ token: Substring) -> AccessToken2? {
        guard let compressed = StrictBase64.decode(token.dropFirst(3)),
              let payload = Zlib.decompress(compressed) else { return nil }
        var reader = ByteReader(payload)
        guard let signature = reader.lengthPrefixed(), signature.count == 32 else { return nil }
        let signingStart = reader.offset
        guard let appID = reader.lengthPrefixed(), let issueTs = reader.u32(), let expire = reader.u32(),
              let salt = reader.u32(), let count = reader.u16() else { return nil }
        var services: [Service] = []
        var stoppedAtUnknown = false
        for _ in 0..<count {
            guard let type = reader.u16() else { return nil }
            guard let parsed = parseServiceBody(type: type, reader: &reader) else {
                if knownTypes.contains(type) { return nil }
                stoppedAtUnknown = true   // as Agora's parser does: stop reading services
                break
            }
            services.append(parsed)
        }
        if !stoppedAtUnknown && !reader.isAtEnd { return nil }
        guard let appIDText = String(validating: appID, as: UTF8.self) else { return nil }
        return AccessToken2(signature: signature, signingInfo: Array(payload[signingStart...]), appID: appIDText,
                            issueTs: issueTs, expire: expire, salt: salt, services: services)
    }

    /// Types 1 to 7 have a fixed, public layout; 8 (RTM2) carries a nested table we do not read.
    private static let knownTypes: Set<UInt16> = [1, 2, 3, 4, 5, 6, 7]

    private static func parseServiceBody(type: UInt16, reader: inout ByteReader) -> Service? {
        guard knownTypes.contains(type) else { return nil }
        guard let privileges = reader.privilegeMap() else { return nil }
        func text() -> String? { reader.lengthPrefixed().flatMap { String(validating: $0, as: UTF8.self) } }
        switch type {
        case 1, 3, 6:
            guard let channel = text(), let uid = text() else { return nil }
            return Service(type: type, privileges: privileges, userID: uid, channelName: channel)
        case 2, 5:
            guard let user = text() else { return nil }
            return Service(type: type, privileges: privileges, userID: user)
        case 4:
            return Service(type: type, privileges: privileges, userID: "")
        case 7:
            guard text() != nil, let user = text(), reader.u16() != nil else { return nil }
            return Service(type: type, privileges: privileges, userID: user)
        default:
            return nil
        }
    }

    static func signingKey(certificate: String, issueTs: UInt32, salt: UInt32) -> [UInt8] {
        var issue = ByteWriter()
        issue.u32(issueTs)
        var saltBytes = ByteWriter()
        saltBytes.u32(salt)
        let k1 = Signing.hmac(key: issue.bytes, message: Array(certificate.utf8))
        return Signing.hmac(key: saltBytes.bytes, message: k1)
    }

    /// Builds a token carrying `services`, signed as Agora's `AccessToken2.build` does.
    static func build(appID: String, certificate: String, issueTs: UInt32, expire: UInt32, salt: UInt32,
                      services: [Service]) -> String {
        var info = ByteWriter()
        info.lengthPrefixed(appID)
        info.u32(issueTs)
        info.u32(expire)
        info.u32(salt)
        info.u16(UInt16(services.count))
        for service in services.sorted(by: { $0.type < $1.type }) {
            info.u16(service.type)
            info.privilegeMap(service.privileges)
            if service.type == rtcServiceType { info.lengthPrefixed(service.channelName) }
            info.lengthPrefixed(service.userID)
        }
        let signature = Signing.hmac(key: signingKey(certificate: certificate, issueTs: issueTs, salt: salt),
                                     message: info.bytes)
        var payload = ByteWriter()
        payload.lengthPrefixed(signature)
        payload.raw(info.bytes)
        return "007" + StrictBase64.encode(Zlib.compress(payload.bytes))
    }

    /// Steps 3–8 of `tokens.md` §4.2.
    func verify(appID requestAppID: String, certificate: String, userID: String, now: Int64) -> Result<VerifiedToken, TokenRejection> {
        guard Signing.constantTimeEquals(appID, requestAppID) else { return .failure(.appIDMismatch) }
        let expected = Signing.hmac(key: Self.signingKey(certificate: certificate, issueTs: issueTs, salt: salt),
                                    message: signingInfo)
        guard Signing.constantTimeEquals(expected, signature) else { return .failure(.badSignature) }
        guard let rtm = services.first(where: { $0.type == Self.rtmServiceType }),
              let loginPrivilege = rtm.privileges[Self.rtmLoginPrivilege] else { return .failure(.missingPrivilege) }
        guard Signing.constantTimeEquals(rtm.userID, userID) else { return .failure(.uidMismatch) }
        let tokenExpiry = Int64(issueTs) + Int64(expire)
        let privilegeExpiry = Int64(issueTs) + Int64(loginPrivilege)
        if now > tokenExpiry { return .failure(.expired) }
        if now > privilegeExpiry { return .failure(.privilegeExpired) }
        return .success(VerifiedToken(version: "007", userID: rtm.userID, expiresAt: min(tokenExpiry, privilegeExpiry)))
    }

    /// The RTM user id inside the token, if it has an RTM service (used when no uid header is sent).
    var rtmUserID: String? { services.first(where: { $0.type == Self.rtmServiceType })?.userID }
}
