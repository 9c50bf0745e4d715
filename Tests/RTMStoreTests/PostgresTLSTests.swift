import Foundation
import RTMTestSupport
import Synchronization
import Logging
import PostgresNIO
@testable import RTMStorePostgres
import Testing

/// `--database-url` with libpq's `sslmode` and `sslrootcert`: how URLs are read, and what each mode
/// does against the test PostgreSQL, which accepts TLS (a certificate for localhost and 127.0.0.1 from
/// a throwaway CA, `RTM_TEST_POSTGRES_CA`) and plaintext.
@Suite struct PostgresTLSTests {
    @Test(arguments: [
        ("postgres://u:p%40ss@db.example:6000/rtm", PostgresURL.TLSMode.prefer, nil as String?),
        ("postgresql://db.example/rtm?sslmode=disable", .disable, nil),
        ("postgres://db.example/rtm?sslmode=require", .require, nil),
        ("postgres://db.example/rtm?sslmode=verify-ca&sslrootcert=/etc/ca.pem", .verifyCA, "/etc/ca.pem"),
        ("postgres://db.example/rtm?sslmode=verify-full", .verifyFull, nil),
    ])
    func urlsAreReadAsLibpqReadsThem(url: String, mode: PostgresURL.TLSMode, root: String?) throws {
        let parsed = try PostgresURL(url)
        #expect(parsed.tlsMode == mode)
        #expect(parsed.rootCertificatePath == root)
        #expect(parsed.host == "db.example")
    }

    @Test func credentialsPortAndDatabase() throws {
        let parsed = try PostgresURL("postgres://rtm%20user:p%40ss%2525@db.example:6000/rtm%2Ddata")
        #expect(parsed.username == "rtm user" && parsed.password == "p@ss%25")
        #expect(parsed.port == 6000 && parsed.database == "rtm-data")
    }

    @Test(arguments: [
        ("mysql://db.example/rtm", "postgres://"),
        ("postgres://db.example/rtm?sslmode=on", "sslmode must be one of"),
        ("postgres://db.example/rtm?sslmode=require&connect_timeout=3", "unsupported parameter \"connect_timeout\""),
        ("postgres://db.example/rtm?sslrootcert=/etc/ca.pem", "only with sslmode=verify-ca or verify-full"),
        ("postgres://127.0.0.1/rtm?sslmode=verify-full", "needs a host name"),
        ("postgres://[::1]/rtm?sslmode=verify-full", "needs a host name"),
    ])
    func unusableURLsAreRefusedWithTheReason(url: String, reason: String) {
        do {
            _ = try PostgresURL(url)
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }

    /// The start-up log line names the server, database and sslmode, never the password.
    @Test func theLogNamesTheServerButNotThePassword() throws {
        let lines = CapturedLog()
        let logger = Logger(label: "rtm.test.tls") { _ in CapturingLogHandler(lines: lines) }
        _ = try PostgresStore(url: "postgres://rtm:s3cr%40t-pw@db.example:6000/rtm?sslmode=require", logger: logger)
        let logged = lines.all.joined(separator: "\n")
        #expect(logged.contains("db.example:6000") && logged.contains("database rtm") && logged.contains("sslmode=require"), "\(logged)")
        #expect(!logged.contains("s3cr") && !logged.contains("pw"), "\(logged)")
    }

    @Test func aMissingRootFileFailsAtStart() {
        #expect(throws: PostgresStoreError.self) {
            _ = try PostgresStore(url: "postgres://localhost/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
        }
    }

    /// Each mode against the real server: whether the connection is encrypted, or refused.
    @Test(arguments: [
        ("127.0.0.1", "sslmode=disable", false),
        ("127.0.0.1", "", true),                      // prefer: the server offers TLS
        ("127.0.0.1", "sslmode=require", true),       // the certificate is not checked
        ("127.0.0.1", "sslmode=verify-ca&sslrootcert=CA", true),
        ("localhost", "sslmode=verify-full&sslrootcert=CA", true),
    ])
    func modesAgainstTheServer(host: String, query: String, encrypted: Bool) async throws {
        #expect(try await Self.encryption(host: host, query: query) == encrypted)
    }

    /// verify-full and verify-ca without the test CA (the system's roots do not trust it): the start-up
    /// check gives up with the TLS reason instead of the pool retrying in silence.
    @Test(arguments: [("localhost", "sslmode=verify-full"), ("127.0.0.1", "sslmode=verify-ca")])
    func anUntrustedCertificateIsRefusedWithTheReason(host: String, query: String) async throws {
        let store = try PostgresStore(url: try Self.url(host: host, query: query), logger: Logger(label: "rtm.test.tls"))
        do {
            try await store.waitUntilConnectable(for: .seconds(30))   // gives up at once: retrying cannot help
            Issue.record("connected without trusting the certificate")
        } catch {
            #expect("\(error)".contains("CERTIFICATE_VERIFY_FAILED"), "\(error)")
            #expect("\(error)".contains("sslmode=\(query.dropFirst("sslmode=".count))"))
        }
    }

    /// A refused login (no such database) is not retried either; no server at all is, until the limit.
    @Test func aRefusedLoginFailsAtOnceAndAMissingServerAtTheLimit() async throws {
        let wrongDatabase = try PostgresStore(url: try Self.url(host: "127.0.0.1", query: "").replacingOccurrences(of: "/postgres", with: "/no_such_db"))
        do {
            try await wrongDatabase.waitUntilConnectable(for: .seconds(30))
            Issue.record("connected to a database that does not exist")
        } catch {
            #expect("\(error)".contains("attempts: 1)"), "\(error)")
        }

        let closedPort = try PostgresStore(url: "postgres://postgres@127.0.0.1:1/postgres")
        do {
            try await closedPort.waitUntilConnectable(for: .seconds(5))
            Issue.record("connected to a closed port")
        } catch {
            #expect("\(error)".contains("127.0.0.1:1 "), "\(error)")
            #expect(!"\(error)".contains("attempts: 1)"), "a connection refused is tried again: \(error)")
        }
    }

    /// The start-up check passes where the pool will connect.
    @Test func theStartUpCheckPassesWithTheRightRoot() async throws {
        let store = try PostgresStore(url: try Self.url(host: "localhost", query: "sslmode=verify-full&sslrootcert=CA"),
                                      logger: Logger(label: "rtm.test.tls"))
        try await store.waitUntilConnectable(for: .seconds(10))
    }

    /// The test server's URL with `host` and `query` (`sslrootcert=CA` names the test CA).
    private static func url(host: String, query: String) throws -> String {
        guard let admin = StoreBackend.postgresAdminURL, let components = URLComponents(string: admin), let port = components.port,
              let ca = ProcessInfo.processInfo.environment["RTM_TEST_POSTGRES_CA"] else {
            Issue.record("RTM_TEST_POSTGRES_URL and RTM_TEST_POSTGRES_CA are set by scripts/with-postgres.sh")
            throw TLSTestFailure(reason: "no test server")
        }
        let filled = query.replacingOccurrences(of: "sslrootcert=CA", with: "sslrootcert=\(ca)")
        return "postgres://postgres@\(host):\(port)/postgres" + (filled.isEmpty ? "" : "?\(filled)")
    }

    /// Connects with `query` added to the test server's URL and asks PostgreSQL whether the session is
    /// encrypted (bounded: 20 s).
    private static func encryption(host: String, query: String) async throws -> Bool {
        let url = try url(host: host, query: query)
        let store = try PostgresStore(url: url, logger: Logger(label: "rtm.test.tls"))
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { await store.run(); throw CancellationError() }
            group.addTask {
                let rows = try await store.client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                for try await ssl in rows.decode(Bool.self) { return ssl }
                throw TLSTestFailure(reason: "no row")
            }
            group.addTask {
                try await Task.sleep(for: .seconds(20))
                throw TLSTestFailure(reason: "no answer within 20 s")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

struct TLSTestFailure: Error {
    let reason: String
}

/// The messages logged through a ``CapturingLogHandler``.
final class CapturedLog: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }
}

/// A log handler that keeps every message (with its metadata) for a test to read.
struct CapturingLogHandler: LogHandler {
    let lines: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lines.append("\(event.message) \(self.metadata.merging(event.metadata ?? [:]) { $1 })")
    }
}
