import NIOHTTP1
@testable import RTMServer
import Testing

/// Which address a request comes from (`trusted_proxies`), and the ranges that list proxies.
@Suite struct ClientAddressTests {
    @Test func rangesMatchAddresses() throws {
        let network = try #require(AddressRange("10.0.0.0/8"))
        #expect(network.contains("10.200.3.4") && !network.contains("11.0.0.1"))
        #expect(try #require(AddressRange("192.168.1.7")).contains("192.168.1.7"))
        #expect(try #require(AddressRange("127.0.0.1")).contains("::ffff:127.0.0.1"))   // IPv4-mapped IPv6
        #expect(try #require(AddressRange("fd00::/8")).contains("fd12::1") && !(try #require(AddressRange("fd00::/8"))).contains("fe80::1"))
        #expect(try #require(AddressRange("0.0.0.0/0")).contains("8.8.8.8"))
        for bad in ["", "10.0.0.0/", "10.0.0.0/33", "::/129", "example.com", "10.0.0.0/8/8", "1.2.3"] {
            #expect(AddressRange(bad) == nil, "\(bad)")
        }
    }

    @Test func forwardedHeadersCountOnlyFromTrustedPeers() {
        let resolver = ClientAddressResolver(trustedProxies: ["10.0.0.0/8"])
        func client(_ peer: String, _ headers: [(String, String)]) -> String {
            resolver.clientAddress(peer: peer, headers: HTTPHeaders(headers))
        }
        // An untrusted peer is its own client whatever it claims.
        #expect(client("203.0.113.9", [("X-Forwarded-For", "198.51.100.1")]) == "203.0.113.9")
        // The rightmost address that is not a trusted proxy; the leftmost entries are the client's to forge.
        #expect(client("10.0.0.2", [("X-Forwarded-For", "1.1.1.1, 198.51.100.1, 10.0.0.3")]) == "198.51.100.1")
        #expect(client("10.0.0.2", [("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "198.51.100.2")]) == "198.51.100.2")
        // Garbage ends the chain; then X-Real-IP, then the peer.
        #expect(client("10.0.0.2", [("X-Forwarded-For", "1.1.1.1, nonsense"), ("X-Real-IP", "198.51.100.3")]) == "198.51.100.3")
        #expect(client("10.0.0.2", [("X-Real-IP", "not-an-address")]) == "10.0.0.2")
        #expect(client("10.0.0.2", []) == "10.0.0.2")
    }

    @Test func connectionsPerAddressCountAndRelease() {
        let bound = ConnectionsPerAddress(maximum: 2)
        #expect(bound.acquire("192.0.2.1") && bound.acquire("::ffff:192.0.2.1"))   // one address, two spellings
        #expect(!bound.acquire("192.0.2.1") && bound.acquire("192.0.2.2"))
        bound.release("192.0.2.1")
        #expect(bound.openConnections(of: "192.0.2.1") == 1 && bound.acquire("192.0.2.1"))
    }
}
