import Foundation
import NIOHTTP1

/// Says which address a request comes from: the peer's own, unless the peer is one of the
/// `trusted_proxies`, whose `X-Forwarded-For` (the rightmost address that is not a trusted proxy)
/// or else `X-Real-IP` names the client. The one rule for every place a client address is used.
struct ClientAddressResolver: Sendable {
    let trustedProxies: [AddressRange]

    init(trustedProxies: [String]) {
        self.trustedProxies = trustedProxies.compactMap(AddressRange.init)
    }

    func isTrusted(_ peer: String) -> Bool {
        trustedProxies.contains { $0.contains(peer) }
    }

    /// The client address of a request that arrived from `peer` with `headers`.
    func clientAddress(peer: String, headers: HTTPHeaders) -> String {
        guard isTrusted(peer) else { return peer }
        let hops = headers["x-forwarded-for"].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard AddressRange.bytes(of: hop) != nil else { break }   // not an address: the chain is not trustworthy past here
            if !isTrusted(hop) { return hop }
        }
        if let real = headers.first(name: "x-real-ip")?.trimmingCharacters(in: .whitespaces),
           AddressRange.bytes(of: real) != nil {
            return real
        }
        return peer
    }
}
