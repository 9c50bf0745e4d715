import RTMProtocol

/// The JSON parser under fuzzing. Besides "no trap", it checks a property: a document it accepts,
/// written back (strings through `JSONWriter`'s escaping, the server's one writer), parses to the same
/// value, byte for byte (`String`'s `==` would let canonically equivalent texts pass).
enum JSONParserFuzzing {
    static func run(_ input: UnsafeBufferPointer<UInt8>) {
        guard let value = JSONValue.parse(input) else { return }
        var written: [UInt8] = []
        guard write(value, to: &written) else { return }   // a number beyond Double's range: nothing to compare
        guard let reparsed = JSONValue.parse(written) else { preconditionFailure("a parsed document written back does not parse") }
        var rewritten: [UInt8] = []
        _ = write(reparsed, to: &rewritten)
        precondition(rewritten == written, "a parsed document written back parses differently")
    }

    /// Writes `value` as JSON, object keys in UTF-8 byte order; `false` if it holds an infinite number
    /// (JSON has no spelling for it).
    private static func write(_ value: JSONValue, to bytes: inout [UInt8]) -> Bool {
        switch value {
        case .null: bytes.append(contentsOf: "null".utf8)
        case .bool(let flag): bytes.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): bytes.append(contentsOf: String(number).utf8)
        case .double(let number):
            guard number.isFinite else { return false }
            bytes.append(contentsOf: "\(number)".utf8)
        case .string(let text): JSONWriter.appendString(text, to: &bytes)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                guard write(element, to: &bytes) else { return false }
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            let sorted = members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (index, (key, member)) in sorted.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(key, to: &bytes)
                bytes.append(UInt8(ascii: ":"))
                guard write(member, to: &bytes) else { return false }
            }
            bytes.append(UInt8(ascii: "}"))
        }
        return true
    }
}
