import AgoraToken
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RTMCore

/// Who a REST call is from, once authenticated.
enum RESTPrincipal: Equatable {
    /// A customer credential: may act as any user of the app.
    case customer
    /// An RTM token: may act only as this user.
    case user(UserID)
}

/// Authenticates REST calls with Basic credentials or RTM tokens (`server-contract.md` §1).
/// Secrets and tokens are compared in constant time and never logged.
struct RESTAuthenticator: Sendable {
    let apps: AppDirectory
    let clock: any RTMClock

    static let tokenHeader = HTTPField.Name("x-agora-token")!
    static let uidHeader = HTTPField.Name("x-agora-uid")!

    /// What a request presents, read from its headers.
    enum Presented {
        /// A customer id and the SHA-256 (hex) of the presented secret.
        case basic(customerID: String, secretHash: String)
        case token(String, claimedUser: String)
    }

    /// Reads the credential from the `Authorization`, `x-agora-token` and `x-agora-uid` values; `nil`
    /// when none is usable (the call is then unauthorized).
    static func presented(authorization: String?, token headerToken: String?, uid: String?) -> Presented? {
        let authorization = authorization?.trimmingCharacters(in: .whitespaces)
        // The scheme is matched without case; only the first 12 characters ("agora token=") are lowered.
        let scheme = authorization.map { $0.prefix(12).lowercased() } ?? ""
        if let authorization, scheme.hasPrefix("basic ") {
            return basic(String(authorization.dropFirst(6)))
        }
        if let authorization, scheme == "agora token=" {
            let token = String(authorization.dropFirst("agora token=".count))
            guard let embedded = RTMToken.embeddedUserID(of: token) else { return nil }
            return .token(token, claimedUser: uid ?? embedded)
        }
        if let headerToken, let uid { return .token(headerToken, claimedUser: uid) }
        return nil
    }

    private static func basic(_ encoded: String) -> Presented? {
        guard encoded.utf8.count <= 1024,
              let data = Data(base64Encoded: encoded.trimmingCharacters(in: .whitespaces)),
              let decoded = String(data: data, encoding: .utf8),
              let colon = decoded.firstIndex(of: ":") else { return nil }
        // Hashed before the id is looked up, so timing does not tell known ids from unknown ones.
        return .basic(customerID: String(decoded[..<colon]), secretHash: Signing.sha256Hex(String(decoded[decoded.index(after: colon)...])))
    }

    /// - Throws: ``APIError/unauthorized`` for anything but a valid credential for `app`.
    func authenticate(_ headers: HTTPFields, app: AppRecord?) async throws -> (AppRecord, RESTPrincipal) {
        guard let presented = Self.presented(authorization: headers[.authorization], token: headers[Self.tokenHeader],
                                             uid: headers[Self.uidHeader]),
              let app else { throw APIError.unauthorized }
        switch presented {
        case .basic(let customerID, let secretHash):
            let credential = await apps.credential(customerID: customerID)
            guard Self.matches(credential, secretHash: secretHash, app: app) else { throw APIError.unauthorized }
            return (app, .customer)
        case .token(let token, let claimedUser):
            guard let user = verify(token, claimedUser: claimedUser, app: app) else { throw APIError.unauthorized }
            return (app, .user(user))
        }
    }

    /// The same decision from memory only, for the event-loop fast path: `nil` when the credential is
    /// not cached or does not authenticate (the regular path then decides, and answers 401).
    func authenticateFromCache(_ presented: Presented, app: AppRecord) -> RESTPrincipal? {
        switch presented {
        case .basic(let customerID, let secretHash):
            guard case .some(let credential) = apps.cachedCredential(customerID: customerID),
                  Self.matches(credential, secretHash: secretHash, app: app) else { return nil }
            return .customer
        case .token(let token, let claimedUser):
            return verify(token, claimedUser: claimedUser, app: app).map { .user($0) }
        }
    }

    private static func matches(_ credential: CustomerCredential?, secretHash: String, app: AppRecord) -> Bool {
        guard let credential else { return false }
        return Signing.constantTimeEquals(secretHash, credential.secretHash) && credential.allows(app.appID)
    }

    /// The token's user when `token` is valid now for `app` and `claimedUser`.
    private func verify(_ token: String, claimedUser: String, app: AppRecord) -> UserID? {
        guard let certificate = app.certificate, let user = UserID(claimedUser) else { return nil }
        guard case .success = RTMToken.verify(token, appID: app.appID.rawValue, certificate: certificate,
                                               userID: user.rawValue, now: clock.nowSeconds()) else { return nil }
        return user
    }
}
