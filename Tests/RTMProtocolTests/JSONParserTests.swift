import Foundation
@testable import RTMProtocol
import Testing

/// The hand-written parser against Foundation's decoder, and against RFC 8259's rules.
@Suite struct JSONParserTests {
    static let valid = [
        #"{}"#, #"[]"#, #" { "a" : [1, -2, 3.5, -0.25e2, 1E+2, 0, true, false, null] } "#,
        #"{"op":"login","id":1,"app_id":"abc","user_id":"u","token":null}"#,
        #""esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 end""#,
        #"{"nested":{"deeper":{"deepest":["x",{"y":[[]]}]}}}"#,
        #"{"big":9223372036854775807,"small":-9223372036854775808,"over":9223372036854775808}"#,
        "\"plain é 漢字 😀\"", "123", "-0", "1.0",
    ]

    @Test(arguments: valid)
    func agreesWithFoundation(document: String) throws {
        let ours = try #require(JSONValue.parse(document.utf8))
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(document.utf8))
        #expect(ours == foundation || Self.sameNumbers(ours, foundation))
    }

    /// `1.0` is a double to us (it has a fraction); Foundation may read it as an integer.
    static func sameNumbers(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.double(let x), .int(let y)): x == Double(y)
        case (.object(let x), .object(let y)): x.keys == y.keys && x.allSatisfy { sameNumbers($0.value, y[$0.key]!) || $0.value == y[$0.key]! }
        case (.array(let x), .array(let y)): x.count == y.count && zip(x, y).allSatisfy { $0 == $1 || sameNumbers($0, $1) }
        default: a == b
        }
    }

    @Test func readsValuesPrecisely() throws {
        let value = try #require(JSONValue.parse(#"{"i":42,"d":2.5,"s":"a\u0041\ud83d\ude00","b":true,"n":null,"a":[1]}"#.utf8))
        #expect(value == .object(["i": .int(42), "d": .double(2.5), "s": .string("aA😀"), "b": .bool(true), "n": .null,
                                  "a": .array([.int(1)])]))
        #expect(JSONValue.parse("9223372036854775808".utf8) == .double(9223372036854775808))
    }

    static let invalid: [[UInt8]] = [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "'x'", "01", "-", "1.", ".5", "1e", "1e+",
        "+1", "tru", "nul", "[1 2]", "\"unterminated", "\"bad \\x escape\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"",
        "\"\\ud800\\u0041\"", "\"tab\tinside\"", "{} {}", "[1] x", "NaN", "Infinity",
    ].map { Array($0.utf8) } + [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]]   // invalid UTF-8

    /// Trailing commas are not JSON (RFC 8259); Foundation's decoder lets them through, this parser does not.
    static let foundationLenient: Set<[UInt8]> = [Array("[1,]".utf8), Array("{\"a\":1,}".utf8)]

    @Test(arguments: invalid)
    func refusesInvalidDocuments(bytes: [UInt8]) {
        #expect(JSONValue.parse(bytes) == nil)
        if !Self.foundationLenient.contains(bytes) {
            #expect((try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))) == nil)
        }
    }

    /// An object that repeats a key is refused at any depth (Foundation keeps one of the values; which
    /// one differs between readers, so the server takes neither), and the refusal says so.
    static let repeatedKeys = [
        #"{"dup":1,"dup":2}"#, #"{"dup":1,"other":true,"dup":1}"#, #"{"a":{"x":1,"x":2}}"#, #"[{"k":"v","k":"v"}]"#,
        #"{"destination":"userB","payload":"Hi","destination":"userC"}"#, #"{"\u0061":1,"a":2}"#,
    ]

    @Test(arguments: repeatedKeys)
    func refusesRepeatedKeys(document: String) {
        #expect(JSONValue.parse(document.utf8) == nil)
        #expect(JSONValue.parseReportingRefusal(document.utf8) == .failure(.repeatedKey))
        #expect((try? JSONDecoder().decode(JSONValue.self, from: Data(document.utf8))) != nil, "Foundation lets it through")
    }

    /// Distinct keys, also ones that differ only after escapes are read, and equal keys in sibling objects.
    @Test func keepsDistinctKeys() {
        #expect(JSONValue.parse(#"{"a":{"k":1},"b":{"k":2},"k":3,"A":4,"\u0062b":5}"#.utf8)
            == .object(["a": .object(["k": .int(1)]), "b": .object(["k": .int(2)]), "k": .int(3), "A": .int(4), "bb": .int(5)]))
    }

    /// Nesting is bounded, so a frame cannot make the parser recurse without limit.
    @Test func nestingIsBounded() {
        let deepest = String(repeating: "[", count: JSONParser.maximumDepth) + String(repeating: "]", count: JSONParser.maximumDepth)
        #expect(JSONValue.parse(deepest.utf8) != nil)
        let tooDeep = "[" + deepest + "]"
        #expect(JSONValue.parse(tooDeep.utf8) == nil)
        let hostile = String(repeating: "[", count: 100_000)
        #expect(JSONValue.parse(hostile.utf8) == nil)
    }

    /// Documents Foundation writes from seeded random values read back equal.
    @Test func roundTripsGeneratedDocuments() throws {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<300 {
            let object = Self.randomValue(depth: 0, using: &generator)
            let data = try JSONSerialization.data(withJSONObject: ["v": object], options: [.fragmentsAllowed])
            let ours = try #require(JSONValue.parse(Array(data)))
            let foundation = try JSONDecoder().decode(JSONValue.self, from: data)
            #expect(ours == foundation || Self.sameNumbers(ours, foundation), "\(String(decoding: data, as: UTF8.self))")
        }
    }

    static func randomValue(depth: Int, using generator: inout SeededGenerator) -> Any {
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &generator) {
        case 0: return Int64.random(in: Int64.min...Int64.max, using: &generator)
        case 1: return String((0..<Int.random(in: 0..<12, using: &generator)).map { _ in
            "aZ é\"\\\n\t😀/漢\u{1}".randomElement(using: &generator)! })
        case 2: return Bool.random(using: &generator)
        case 3: return Double(Int.random(in: -1000...1000, using: &generator)) / 8
        case 4: return (0..<Int.random(in: 0..<4, using: &generator)).map { _ in randomValue(depth: depth + 1, using: &generator) }
        default:
            var object: [String: Any] = [:]
            for index in 0..<Int.random(in: 0..<4, using: &generator) { object["k\(index)"] = randomValue(depth: depth + 1, using: &generator) }
            return object
        }
    }
}

/// A small deterministic generator (SplitMix64), so generated cases are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
