/// The 006 ("AccessToken") format as the RTM builder writes it (`tokens.md` §2).
struct AccessToken006 {
    static let rtmLoginPrivilege: UInt16 = 1000
    static let lifetime: UInt32 = 86_400

    var appID: String
    var signature: [UInt8]
    var crcChannelName: UInt32
    var crcUID: UInt32
    /// The signed message `m`, byte for byte as received.
    var message: [UInt8]
    var salt: UInt32
    var expiresAt: UInt32
    var privileges: [UInt16: UInt32]

    /// Parses `006…`; `nil` for any layout defect.
    static func parse(_ token: Substring) -> AccessToken006? {
        guard token.utf8.count >= 35 else { return nil }
        let appID = String(token.dropFirst(3).prefix(32))
        guard let content = StrictBase64.decode(token.dropFirst(35)) else { return nil }
        var reader = ByteReader(content)
        guard let signature = reader.lengthPrefixed(), signature.count == 32,
              let crcChannelName = reader.u32(), let crcUID = reader.u32(),
              let message = reader.lengthPrefixed(), reader.isAtEnd else { return nil }
        var messageReader = ByteReader(message)
        guard let salt = messageReader.u32(), let ts = messageReader.u32(),
              let privileges = messageReader.privilegeMap(), messageReader.isAtEnd else { return nil }
        return AccessToken006(appID: appID, signature: signature, crcChannelName: crcChannelName, crcUID: crcUID,
                              message: message, salt: salt, expiresAt: ts, privileges: privileges)
    }

    /// Builds an RTM 006 token exactly as Agora's `RtmTokenBuilder.buildToken` does.
    static func build(appID: String, certificate: String, userID: String, privilegeExpiredTs: UInt32,
                      buildTime: UInt32, salt: UInt32) -> String {
        var message = ByteWriter()
        message.u32(salt)
        message.u32(buildTime &+ lifetime)
        message.privilegeMap([rtmLoginPrivilege: privilegeExpiredTs])
        let signature = Signing.hmac(key: Array(certificate.utf8),
                                     message: Array(appID.utf8) + Array(userID.utf8) + message.bytes)
        var content = ByteWriter()
        content.lengthPrefixed(signature)
        content.u32(Zlib.crc32(Array(userID.utf8)))
        content.u32(0)
        content.lengthPrefixed(message.bytes)
        return "006" + appID + StrictBase64.encode(content.bytes)
    }

    /// Steps 3–8 of `tokens.md` §4.1.
    func verify(appID requestAppID: String, certificate: String, userID: String, now: Int64) -> Result<VerifiedToken, TokenRejection> {
        guard Signing.constantTimeEquals(appID, requestAppID) else { return .failure(.appIDMismatch) }
        guard crcUID == 0, crcChannelName == Zlib.crc32(Array(userID.utf8)) else { return .failure(.uidMismatch) }
        let expected = Signing.hmac(key: Array(certificate.utf8), message: Array(appID.utf8) + Array(userID.utf8) + message)
        guard Signing.constantTimeEquals(expected, signature) else { return .failure(.badSignature) }
        guard let privilegeExpiry = privileges[Self.rtmLoginPrivilege] else { return .failure(.missingPrivilege) }
        if now > Int64(expiresAt) { return .failure(.expired) }
        if privilegeExpiry != 0 && now > Int64(privilegeExpiry) { return .failure(.privilegeExpired) }
        let limit = privilegeExpiry == 0 ? Int64(expiresAt) : min(Int64(expiresAt), Int64(privilegeExpiry))
        return .success(VerifiedToken(version: "006", userID: userID, expiresAt: limit))
    }
}
