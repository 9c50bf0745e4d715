/// Writes one JSON object into bytes without an intermediate tree. Keys are written as given
/// (callers use fixed ASCII keys); string values are escaped per RFC 8259.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int = 128) {
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    /// The finished object (`{...}`).
    public mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func key(_ key: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: key.utf8)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func field(_ name: String, _ value: String) {
        key(name)
        Self.appendString(value, to: &bytes)
    }

    public mutating func field(_ name: String, _ value: Int64) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func field(_ name: String, _ value: Int) { field(name, Int64(value)) }

    public mutating func field(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func nullField(_ name: String) {
        key(name)
        bytes.append(contentsOf: "null".utf8)
    }

    public mutating func field(_ name: String, strings: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in strings.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.appendString(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// An object of string keys to integers, in the given order.
    public mutating func field(_ name: String, counts: [(String, Int)]) {
        key(name)
        bytes.append(UInt8(ascii: "{"))
        for (index, pair) in counts.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.appendString(pair.0, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            bytes.append(contentsOf: String(pair.1).utf8)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// A field whose value is already-encoded JSON (an object or array built by another writer).
    public mutating func field(_ name: String, rawJSON: [UInt8]) {
        key(name)
        bytes.append(contentsOf: rawJSON)
    }

    /// A field holding an array of objects, each written by `write`.
    public mutating func field<Element>(_ name: String, objects: [Element], _ write: (inout JSONWriter, Element) -> Void) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, element) in objects.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            var writer = JSONWriter()
            write(&writer, element)
            bytes.append(contentsOf: writer.finish())
        }
        bytes.append(UInt8(ascii: "]"))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Appends `value` as a JSON string literal: the two-character escapes where JSON has one (`\b`
    /// `\f` `\n` `\r` `\t` `\"` `\\`), `\u00XX` for the other control characters, every other byte as it
    /// is. No character is written longer than the shortest way a client may have sent it, so an event
    /// grows past its request only by its envelope.
    public static func appendString(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case 0x0A: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
            case 0x08: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "f"))
            case 0..<0x20:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
