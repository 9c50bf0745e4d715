import Foundation
import PostgresNIO
import RTMCore

extension PostgresStore: AppRegistry {
    package func app(_ id: AppID) async throws -> AppRecord? {
        let rows = try await client.query("""
            SELECT app_id, certificate, messaging_rate_limit, history_retention_days, rest_token_scope FROM app WHERE app_id = \(id.rawValue)
            """, logger: logger)
        var found: AppRecord?
        for try await row in rows.decode((String, String?, Int?, Int?, String).self) { found = Self.app(row) }
        return found
    }

    package func allApps() async throws -> [AppRecord] {
        let rows = try await client.query("""
            SELECT app_id, certificate, messaging_rate_limit, history_retention_days, rest_token_scope FROM app ORDER BY created_at, app_id
            """, logger: logger)
        var apps: [AppRecord] = []
        for try await row in rows.decode((String, String?, Int?, Int?, String).self) { if let app = Self.app(row) { apps.append(app) } }
        return apps
    }

    package func upsertApp(_ app: AppRecord) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try await client.query("""
            INSERT INTO app (app_id, certificate, messaging_rate_limit, history_retention_days, rest_token_scope, created_at)
            VALUES (\(app.appID.rawValue), \(app.certificate), \(app.messagingRateLimit), \(app.historyRetentionDays),
                    \(app.restTokenScope.rawValue), \(now))
            ON CONFLICT (app_id) DO UPDATE SET certificate = EXCLUDED.certificate,
                messaging_rate_limit = EXCLUDED.messaging_rate_limit, history_retention_days = EXCLUDED.history_retention_days,
                rest_token_scope = EXCLUDED.rest_token_scope
            """, logger: logger).drain()
    }

    package func credential(customerID: String) async throws -> CustomerCredential? {
        let rows = try await client.query("""
            SELECT customer_id, secret_sha256, apps FROM customer_credential WHERE customer_id = \(customerID)
            """, logger: logger)
        var found: CustomerCredential?
        for try await row in rows.decode((String, String, String).self) { found = Self.credential(row) }
        return found
    }

    package func allCredentials() async throws -> [CustomerCredential] {
        let rows = try await client.query("""
            SELECT customer_id, secret_sha256, apps FROM customer_credential ORDER BY created_at, customer_id
            """, logger: logger)
        var credentials: [CustomerCredential] = []
        for try await row in rows.decode((String, String, String).self) { credentials.append(Self.credential(row)) }
        return credentials
    }

    package func upsertCredential(_ credential: CustomerCredential) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let apps = credential.apps.joined(separator: ",")
        try await client.query("""
            INSERT INTO customer_credential (customer_id, secret_sha256, apps, created_at)
            VALUES (\(credential.customerID), \(credential.secretHash), \(apps), \(now))
            ON CONFLICT (customer_id) DO UPDATE SET secret_sha256 = EXCLUDED.secret_sha256, apps = EXCLUDED.apps
            """, logger: logger).drain()
    }

    private static func app(_ row: (String, String?, Int?, Int?, String)) -> AppRecord? {
        AppID(row.0).map { AppRecord(appID: $0, certificate: row.1, messagingRateLimit: row.2, historyRetentionDays: row.3,
                                     restTokenScope: RESTTokenScope(storedValue: row.4)) }
    }

    private static func credential(_ row: (String, String, String)) -> CustomerCredential {
        CustomerCredential(customerID: row.0, secretHash: row.1, apps: row.2.split(separator: ",").map(String.init))
    }
}
