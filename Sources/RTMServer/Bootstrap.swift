import AgoraToken
import Foundation
import RTMCore

/// What the first run created; printed once and never stored in clear.
package struct BootstrapCredentials: Sendable {
    package var appID: String
    package var appCertificate: String
    package var customerID: String
    package var customerSecret: String
}

/// Merges configured apps and customers into the store, and on a first run (an empty store and
/// no configured app) creates one app and one customer credential.
package enum Bootstrap {
    /// Random lower-case hex of `bytes` bytes.
    package static func randomHex(bytes: Int) -> String {
        (0..<bytes).map { _ in
            let byte = UInt8.random(in: 0...255)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }

    /// Applies `configuration`'s apps and customers (the file wins on conflict).
    /// - Returns: credentials created now, if this was a first run.
    package static func prepare(registry: any AppRegistry, configuration: ServerConfiguration) async throws -> BootstrapCredentials? {
        for app in configuration.apps {
            guard let id = AppID(app.appID) else { continue }
            try await registry.upsertApp(AppRecord(appID: id, certificate: app.appCertificate,
                                                   messagingRateLimit: app.messagingRateLimit,
                                                   historyRetentionDays: app.historyRetentionDays,
                                                   restTokenScope: app.restTokenScope))
        }
        for customer in configuration.customers {
            try await registry.upsertCredential(CustomerCredential(customerID: customer.id,
                                                                   secretHash: Signing.sha256Hex(customer.secret),
                                                                   apps: customer.apps))
        }
        guard configuration.bootstrapWhenEmpty, try await registry.allApps().isEmpty else { return nil }
        let created = BootstrapCredentials(appID: randomHex(bytes: 16), appCertificate: randomHex(bytes: 16),
                                           customerID: randomHex(bytes: 16), customerSecret: randomHex(bytes: 16))
        try await registry.upsertApp(AppRecord(appID: AppID(created.appID)!, certificate: created.appCertificate))
        try await registry.upsertCredential(CustomerCredential(customerID: created.customerID,
                                                               secretHash: Signing.sha256Hex(created.customerSecret),
                                                               apps: ["*"]))
        return created
    }
}
