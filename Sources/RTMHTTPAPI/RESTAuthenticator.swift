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

    /// - Throws: ``APIError/unauthorized`` for anything but a valid credential for `app`.
    func authenticate(_ headers: HTTPFields, app: AppRecord?) async throws -> (AppRecord, RESTPrincipal) {
        let authorization = headers[.authorization]?.trimmingCharacters(in: .whitespaces)
        // The scheme is matched without case; only the first 12 characters ("agora token=") are lowered.
        let scheme = authorization.map { $0.prefix(12).lowercased() } ?? ""
        if let authorization, scheme.hasPrefix("basic ") {
            guard let app, await basicIsValid(String(authorization.dropFirst(6)), app: app.appID) else { throw APIError.unauthorized }
            return (app, .customer)
        }
        let token: String
        let claimedUser: String
        if let authorization, scheme == "agora token=" {
            token = String(authorization.dropFirst("agora token=".count))
            guard let embedded = RTMToken.embeddedUserID(of: token) else { throw APIError.unauthorized }
            claimedUser = headers[Self.uidHeader] ?? embedded
        } else if let headerToken = headers[Self.tokenHeader], let uid = headers[Self.uidHeader] {
            token = headerToken
            claimedUser = uid
        } else {
            throw APIError.unauthorized
        }
        guard let app, let certificate = app.certificate, let user = UserID(claimedUser) else { throw APIError.unauthorized }
        guard case .success = RTMToken.verify(token, appID: app.appID.rawValue, certificate: certificate,
                                               userID: user.rawValue, now: clock.nowSeconds()) else {
            throw APIError.unauthorized
        }
        return (app, .user(user))
    }

    private func basicIsValid(_ encoded: String, app: AppID) async -> Bool {
        guard encoded.utf8.count <= 1024,
              let data = Data(base64Encoded: encoded.trimmingCharacters(in: .whitespaces)),
              let decoded = String(data: data, encoding: .utf8),
              let colon = decoded.firstIndex(of: ":") else { return false }
        let customerID = String(decoded[..<colon])
        let secret = String(decoded[decoded.index(after: colon)...])
        // Hash even when the id is unknown so timing does not tell ids apart.
        let presentedHash = Signing.sha256Hex(secret)
        guard let credential = await apps.credential(customerID: customerID) else { return false }
        return Signing.constantTimeEquals(presentedHash, credential.secretHash) && credential.allows(app)
    }
}
