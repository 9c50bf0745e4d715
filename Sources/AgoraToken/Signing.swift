import Crypto

/// HMAC-SHA256 helpers and the constant-time comparison every credential check uses.
package enum Signing {
    static func hmac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// Compares two byte strings in time that depends only on their lengths.
    package static func constantTimeEquals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(lhs, rhs) { difference |= left ^ right }
        return difference == 0
    }

    /// Constant-time comparison of two strings' UTF-8 bytes (without copying them).
    package static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        constantTimeEquals(lhs.utf8, rhs.utf8)
    }

    /// SHA-256 of a string, hex encoded (used to store customer secrets).
    package static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
