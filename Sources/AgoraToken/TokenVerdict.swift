/// Why a token was refused, with the names used by `tokens.md` §5 and the shared vectors.
public enum TokenRejection: String, Error, Sendable, Equatable, CaseIterable {
    case unsupportedVersion = "unsupported_version"
    case malformed
    case appIDMismatch = "app_id_mismatch"
    case uidMismatch = "uid_mismatch"
    case badSignature = "bad_signature"
    case missingPrivilege = "missing_privilege"
    case expired
    case privilegeExpired = "privilege_expired"
}

/// What a verified token grants.
public struct VerifiedToken: Sendable, Equatable {
    /// `006` or `007`.
    public var version: String
    /// The user the token was built for.
    public var userID: String
    /// The earliest of the token's own expiry and its RTM login privilege expiry (Unix seconds);
    /// `nil` when neither sets a limit.
    public var expiresAt: Int64?

    public init(version: String, userID: String, expiresAt: Int64?) {
        self.version = version
        self.userID = userID
        self.expiresAt = expiresAt
    }
}
