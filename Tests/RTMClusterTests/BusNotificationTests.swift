import RTMCluster
import Testing

/// The bus's notification format and size rule, as values.
@Suite struct BusNotificationTests {
    @Test func aSmallEnvelopeTravelsInlineAndReadsBack() throws {
        let envelope = BusEnvelope(origin: "node-a", sequence: 42, body: #"{"k":"login","u":"é 😀 with spaces"}"#)
        let payload = try #require(BusNotification.inlinePayload(envelope))
        #expect(payload.hasPrefix("v1 node-a 42 i "))
        #expect(BusNotification.parse(payload) == .inline(envelope))
    }

    @Test func anEnvelopeOverTheLimitDoesNotTravelInline() {
        let header = "v1 node-a 1 i ".utf8.count
        let fits = BusEnvelope(origin: "node-a", sequence: 1, body: String(repeating: "x", count: BusNotification.maximumInlineBytes - header))
        let tooLong = BusEnvelope(origin: "node-a", sequence: 1, body: fits.body + "x")
        #expect(BusNotification.inlinePayload(fits)?.utf8.count == BusNotification.maximumInlineBytes)
        #expect(BusNotification.inlinePayload(tooLong) == nil)
        // Bytes count, not characters: 3,500 two-byte characters are 7,000 bytes.
        let multibyte = BusEnvelope(origin: "n", sequence: 1, body: String(repeating: "é", count: 3_500))
        #expect(BusNotification.inlinePayload(multibyte) == nil)
        #expect(BusNotification.maximumInlineBytes < 8_000, "PostgreSQL refuses payloads of 8,000 bytes or more")
    }

    @Test func aReferenceReadsBack() {
        let payload = BusNotification.referencePayload(origin: "n.1_x", sequence: 7, bodyID: 123_456_789_012)
        #expect(BusNotification.parse(payload) == .reference(origin: "n.1_x", sequence: 7, bodyID: 123_456_789_012))
    }

    @Test(arguments: ["", "hello", "v2 a 1 i x", "v1 a x i body", "v1 a 1 z body", "v1 a 1 r notanumber", "v1 bad/node 1 i x",
                      "v1 a 1 i", "v1  1 i x"])
    func notificationsNotInTheFormatAreIgnored(payload: String) {
        #expect(BusNotification.parse(payload) == nil)
    }

    @Test func anEmptyBodyAndABodyWithTheSeparatorReadBack() throws {
        for body in ["", "a b  c ", " leading"] {
            let envelope = BusEnvelope(origin: "a", sequence: 1, body: body)
            #expect(BusNotification.parse(try #require(BusNotification.inlinePayload(envelope))) == .inline(envelope))
        }
    }

    @Test func nodeNames() {
        #expect(NodeName.isValid("node-1") && NodeName.isValid("a.b_C-9") && NodeName.isValid(String(repeating: "n", count: 64)))
        #expect(!NodeName.isValid("") && !NodeName.isValid(String(repeating: "n", count: 65)))
        #expect(!NodeName.isValid("has space") && !NodeName.isValid("é") && !NodeName.isValid("a\"b") && !NodeName.isValid("a/b"))
    }
}
