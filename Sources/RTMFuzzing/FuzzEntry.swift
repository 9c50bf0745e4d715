/// The parsers under fuzzing, one entry each: what the libFuzzer binary (`Fuzz/Targets`) calls for every
/// input and what the ordinary tests replay for every kept input (`Fuzz/corpus`, `Fuzz/crashes`), so both
/// run one implementation. An entry returns normally for any input; a defect traps (a Swift runtime
/// check, or a `precondition` on a property the entry checks), which libFuzzer reports as a crash.
package enum FuzzEntry: String, CaseIterable, Sendable {
    /// `JSONParser` through `JSONValue.parse`, with a round trip through the writer's string escaping.
    case jsonParser = "json-parser"
    /// `RequestParser`, the client frame reader.
    case requestParser = "request-parser"
    /// The 006 token reader (`RTMToken.verify` on `006…` tokens).
    case token006 = "token-006"
    /// The 007 token reader (`RTMToken.verify` and `embeddedUserID` on `007…` tokens).
    case token007 = "token-007"
    /// The REST fast path behind NIO's HTTP/1 request decoder, fed raw bytes through an `EmbeddedChannel`.
    case restFastPath = "rest-fast-path"

    /// Runs one input.
    package func run(_ input: UnsafeBufferPointer<UInt8>) {
        switch self {
        case .jsonParser: JSONParserFuzzing.run(input)
        case .requestParser: RequestParserFuzzing.run(input)
        case .token006: TokenFuzzing.run006(input)
        case .token007: TokenFuzzing.run007(input)
        case .restFastPath: RESTFastPathFuzzing.shared.run(input)
        }
    }

    /// Runs one input held in an array (the tests' replay).
    package func run(_ input: [UInt8]) {
        input.withUnsafeBufferPointer { run($0) }
    }
}
