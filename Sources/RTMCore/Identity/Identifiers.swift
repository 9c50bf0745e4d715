/// The naming rule shared by user ids and channel names (`agora-rtm-rest.md` §8,
/// `server-contract.md` §4): 1–64 characters from the 90-character set, no leading or trailing space.
package enum RTMName {
    /// The 27 symbols allowed besides letters, digits and space.
    static let symbols: Set<UInt8> = Set("!#$%&()+-:;<=.>?@[]^_{}|~,'".utf8)

    /// Whether `text` is a valid user id or channel name.
    package static func isValid(_ text: String) -> Bool {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= 64, bytes.first != 0x20, bytes.last != 0x20 else { return false }
        return bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x20 || symbols.contains(byte)
        }
    }
}

/// A validated RTM user id.
package struct UserID: Hashable, Sendable, CustomStringConvertible {
    package let rawValue: String
    /// `nil` unless `rawValue` follows ``RTMName``'s rule.
    package init?(_ rawValue: String) {
        guard RTMName.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }
    package var description: String { rawValue }
}

/// A validated RTM channel name.
package struct ChannelName: Hashable, Sendable, CustomStringConvertible {
    package let rawValue: String
    /// `nil` unless `rawValue` follows ``RTMName``'s rule.
    package init?(_ rawValue: String) {
        guard RTMName.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }
    package var description: String { rawValue }
}

/// An application (project) id. Everything the router keeps is keyed by it, so no state crosses apps.
package struct AppID: Hashable, Sendable, CustomStringConvertible {
    package let rawValue: String
    /// Accepts 1–64 ASCII letters and digits (Agora's are 32 hex characters).
    package init?(_ rawValue: String) {
        let bytes = rawValue.utf8
        guard !bytes.isEmpty, bytes.count <= 64,
              bytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) })
        else { return nil }
        self.rawValue = rawValue
    }
    package var description: String { rawValue }

    /// Whether `text` is 32 hexadecimal characters, the form Agora app ids and certificates take.
    package static func isHex32(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x46) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}
