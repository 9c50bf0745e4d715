/// Strings every path must carry byte for byte (issue 10, "payload fidelity"): U+0000, the other
/// control characters, astral-plane characters, JSON's escape characters, text that looks like an
/// escape, and the longest payload allowed.
package enum FidelitySamples {
    /// Every C0 control character and DEL, U+0000 among them.
    package static let controls = String(String.UnicodeScalarView((0..<0x20).compactMap(Unicode.Scalar.init) + [Unicode.Scalar(0x7F)]))

    /// Short samples, each a valid payload.
    package static let short: [String] = [
        "a\u{0}b",
        "\u{0}",
        "\u{0}\u{0}trailing\u{0}",
        controls,
        "tab\tnewline\ncr\rbell\u{7}backspace\u{8}formfeed\u{C}",
        "😀 astral \u{1F600}\u{10FFFF}\u{1D11E}",
        "combining e\u{301} and BOM \u{FEFF} and U+2028\u{2028}U+2029\u{2029}",
        #"quote " backslash \ slash / literal \u0000 and \ud83d"#,
        "é中文Ω",
        " leading and trailing spaces ",
    ]

    /// 32,768 UTF-8 bytes (the limit): astral characters (4 bytes each) with NULs between. Its JSON
    /// encoding (a NUL is written `\u0000`) is about 56 KB, so a request or frame carrying it fits 64 KiB.
    package static let longest = long(32_768)

    /// `count` UTF-8 bytes of astral characters with NULs between (7 bytes a round), padded with `x`.
    package static func long(_ count: Int) -> String {
        let text = String(repeating: "😀\u{0}xx", count: count / 7)
        return text + String(repeating: "x", count: count - text.utf8.count)
    }

    /// The bytes a string must come back as (Swift's `==` would also accept a canonically equivalent string).
    package static func bytes(_ text: String?) -> [UInt8]? { text.map { Array($0.utf8) } }

    /// The short samples and the longest.
    package static let all: [String] = short + [longest]
}
