import RTMProtocol
import RTMTestSupport
import Testing

/// The JSON writer and parser agree byte for byte on every string, and the writer never makes a
/// character longer than the shortest form a client may have sent it in.
@Suite struct JSONWriterTests {
    @Test(arguments: FidelitySamples.all + [String(String.UnicodeScalarView((0..<0x80).compactMap(Unicode.Scalar.init)))])
    func everyStringRoundTrips(_ text: String) {
        var writer = JSONWriter()
        writer.field("text", text)
        let parsed = JSONValue.parse(writer.finish())?.objectValue?["text"]?.stringValue
        #expect(FidelitySamples.bytes(parsed) == Array(text.utf8))
    }

    @Test func shortEscapesWhereJSONHasThem() {
        var bytes: [UInt8] = []
        JSONWriter.appendString("\u{8}\u{C}\n\r\t\"\\\u{0}\u{1F}\u{7F}/😀", to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #""\b\f\n\r\t\"\\\u0000\u001f"# + "\u{7F}/😀\"")
    }
}
