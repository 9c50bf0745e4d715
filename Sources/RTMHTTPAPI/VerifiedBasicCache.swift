import AgoraToken
import Crypto
import RTMCore
import Synchronization

/// Remembers Basic `Authorization` values that authenticated, so a backend sending the same header
/// on every call skips the base64 decoding and secret hashing (a third of a fast-path send's CPU).
///
/// Entries are keyed by the SHA-256 of the whole header value, never by the value itself, and hold the
/// credential's id and the secret hash it matched. A hit is only trusted while the app directory
/// still holds that credential with that same hash (compared in constant time) and the credential
/// allows the app: a rotated or removed credential stops matching at once. Bounded; a full cache is
/// emptied (a reset only costs the next calls a full check).
final class VerifiedBasicCache: Sendable {
    private struct Entry {
        let customerID: String
        let secretHash: String
    }

    static let capacity = 1024
    private let entries = Mutex<[SHA256Digest: Entry]>([:])

    static func key(_ authorization: String) -> SHA256Digest {
        var authorization = authorization
        return authorization.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
    }

    /// Whether the header with `key` was verified before and the directory still agrees (a customer principal).
    func isVerified(_ key: SHA256Digest, app: AppRecord, apps: AppDirectory) -> Bool {
        guard let entry = entries.withLock({ $0[key] }),
              case .some(let credential?) = apps.cachedCredential(customerID: entry.customerID) else { return false }
        return Signing.constantTimeEquals(entry.secretHash, credential.secretHash) && credential.allows(app.appID)
    }

    /// Records that the header with `key` authenticated as `customerID` with secret hash `secretHash`.
    func remember(_ key: SHA256Digest, customerID: String, secretHash: String) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(customerID: customerID, secretHash: secretHash)
        }
    }
}
