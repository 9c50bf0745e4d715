/// A strict RFC 8259 parser producing ``JSONValue``, for the request paths (client frames, REST send
/// bodies). Foundation's `JSONDecoder` took about a fifth of a REST send's CPU time in profiles.
///
/// Strings must be valid UTF-8 (escapes included: an unpaired surrogate is refused), numbers are
/// `.int` when written without fraction or exponent and within `Int64`, `.double` otherwise, nesting
/// is limited to ``maximumDepth``, and only whitespace may follow the value. An object that repeats
/// a key, at any depth, is refused (RFC 8259 leaves it open; parsers disagree on which value wins, so
/// the server takes neither: one grammar for client frames and for both REST routes).
struct JSONParser {
    /// Deepest nesting of arrays and objects accepted (bounds the recursion a frame can cause).
    static let maximumDepth = 64

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    /// Set when an object repeated a key (the parse then fails).
    private var repeatedKey = false

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Parses `bytes` as one JSON document; `nil` if it is not valid JSON.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        try? parseReportingRefusal(bytes).get()
    }

    /// Parses `bytes` as one JSON document, saying why it was refused.
    static func parseReportingRefusal(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONRefusal> {
        var parser = JSONParser(bytes)
        let value = parser.value(depth: 0)
        if parser.repeatedKey { return .failure(.repeatedKey) }
        guard let value else { return .failure(.malformed) }
        parser.skipWhitespace()
        return parser.index == bytes.count ? .success(value) : .failure(.malformed)
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private mutating func value(depth: Int) -> JSONValue? {
        skipWhitespace()
        guard let byte = current else { return nil }
        switch byte {
        case UInt8(ascii: "{"): return depth < Self.maximumDepth ? object(depth: depth + 1) : nil
        case UInt8(ascii: "["): return depth < Self.maximumDepth ? array(depth: depth + 1) : nil
        case UInt8(ascii: "\""): return string().map { .string($0) }
        case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return literal("null") ? .null : nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
        default: return nil
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
        index += count
        return true
    }

    private mutating func object(depth: Int) -> JSONValue? {
        index += 1   // {
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\""), let key = string() else { return nil }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { return nil }
            index += 1
            guard let member = value(depth: depth) else { return nil }
            guard members.updateValue(member, forKey: key) == nil else {
                repeatedKey = true
                return nil
            }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            default: return nil
            }
        }
    }

    private mutating func array(depth: Int) -> JSONValue? {
        index += 1   // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            guard let element = value(depth: depth) else { return nil }
            elements.append(element)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            default: return nil
            }
        }
    }

    /// A string starting at the opening quote.
    private mutating func string() -> String? {
        index += 1   // "
        let start = index
        // Fast path: no escapes. Scan to the closing quote.
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { return nil }
            index += 1
        }
        guard let stop = current else { return nil }
        if stop == UInt8(ascii: "\"") {
            defer { index += 1 }
            return Self.makeString(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        }
        // Escapes: decode into a byte array.
        var decoded = Array(bytes[start..<index])
        while let byte = current {
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return decoded.withUnsafeBufferPointer { Self.makeString($0) }
            case UInt8(ascii: "\\"):
                index += 1
                guard let escape = current else { return nil }
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    guard let scalar = unicodeEscape() else { return nil }
                    decoded.append(contentsOf: String(Character(scalar)).utf8)
                default: return nil
                }
            case 0..<0x20:
                return nil
            default:
                decoded.append(byte)
                index += 1
            }
        }
        return nil
    }

    /// A string from UTF-8 bytes, `nil` if they are not valid UTF-8. ASCII (the usual case: keys, ids,
    /// most payloads) skips the general validation, which profiles showed doing type-metadata lookups.
    private static func makeString(_ utf8: UnsafeBufferPointer<UInt8>) -> String? {
        var ascii = true
        for byte in utf8 where byte >= 0x80 { ascii = false; break }
        if ascii { return String(decoding: utf8, as: UTF8.self) }
        return String(validating: utf8, as: UTF8.self)
    }

    /// The scalar of `\uXXXX` (after the `u`), joining a surrogate pair; `nil` for an unpaired surrogate.
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        guard let first = hex4() else { return nil }
        switch first {
        case 0xD800...0xDBFF:
            guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
            index += 2
            guard let second = hex4(), (0xDC00...0xDFFF).contains(second) else { return nil }
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
        case 0xDC00...0xDFFF:
            return nil
        default:
            return Unicode.Scalar(first)
        }
    }

    private mutating func hex4() -> UInt32? {
        guard bytes.count - index >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private mutating func number() -> JSONValue? {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        guard let first = current, isDigit(first) else { return nil }
        index += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        var integral = true
        if current == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard let digit = current, isDigit(digit) else { return nil }
            skipDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            integral = false
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard let digit = current, isDigit(digit) else { return nil }
            skipDigits()
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if integral, let value = Int64(text) { return .int(value) }
        return Double(text).map { .double($0) }
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func skipDigits() {
        while let byte = current, isDigit(byte) { index += 1 }
    }
}

/// Why ``JSONParser`` refused a document.
package enum JSONRefusal: Error, Equatable {
    /// Not JSON (RFC 8259), or nested deeper than ``JSONParser/maximumDepth``.
    case malformed
    /// An object repeats a key.
    case repeatedKey
}

extension JSONValue {
    /// Parses `bytes` as one JSON document with ``JSONParser``; `nil` if it is not valid JSON or an
    /// object in it repeats a key.
    public static func parse(_ bytes: some Sequence<UInt8>) -> JSONValue? {
        try? parseReportingRefusal(bytes).get()
    }

    /// Parses `bytes` like ``parse(_:)``, saying why a document was refused.
    package static func parseReportingRefusal(_ bytes: some Sequence<UInt8>) -> Result<JSONValue, JSONRefusal> {
        if let parsed = bytes.withContiguousStorageIfAvailable({ JSONParser.parseReportingRefusal($0) }) { return parsed }
        return Array(bytes).withUnsafeBufferPointer { JSONParser.parseReportingRefusal($0) }
    }
}
