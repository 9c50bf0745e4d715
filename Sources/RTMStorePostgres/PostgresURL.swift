import Foundation
import NIOSSL
import PostgresNIO

/// A `postgres://user:password@host:port/database?sslmode=…&sslrootcert=…` URL, read with libpq's
/// meaning of its TLS parameters, so a URL written for `psql` or another libpq client connects the same way.
///
/// `sslmode` (default `prefer`, as in libpq):
/// - `disable`: no TLS.
/// - `allow`, `prefer`: TLS when the server offers it, plaintext otherwise; the certificate is not
///   checked (protects only against passive listening).
/// - `require`: TLS or no connection; the certificate is not checked.
/// - `verify-ca`: TLS, and the server's certificate must chain to a trusted root (`sslrootcert`, else
///   the system's roots); its name is not checked.
/// - `verify-full`: as `verify-ca`, and the certificate must name the URL's host.
///
/// Other query parameters are refused rather than ignored, so nobody believes a setting applies when it does not.
struct PostgresURL: Equatable {
    enum TLSMode: String, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    let host: String
    let port: Int
    let username: String
    let password: String?
    let database: String?
    let tlsMode: TLSMode
    /// `sslrootcert`: a PEM file of trusted roots for `verify-ca` and `verify-full`.
    let rootCertificatePath: String?

    static let supportedParameters = ["sslmode", "sslrootcert"]

    init(_ text: String) throws(PostgresStoreError) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw .invalidURL("it must look like postgres://user:password@host:port/database")
        }
        self.host = host
        port = components.port ?? 5432
        // Decoded once, from the encoded forms (`user`, `password` and `path` are already decoded,
        // and decoding them again would turn a password's `%25` into a bad escape).
        username = components.percentEncodedUser?.removingPercentEncoding ?? "postgres"
        password = components.percentEncodedPassword?.removingPercentEncoding
        let path = components.percentEncodedPath.hasPrefix("/") ? String(components.percentEncodedPath.dropFirst()) : components.percentEncodedPath
        database = path.isEmpty ? nil : path.removingPercentEncoding
        var mode = TLSMode.prefer
        var rootCertificatePath: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let parsed = TLSMode(rawValue: value) else {
                    throw .invalidURL("sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                mode = parsed
            case "sslrootcert":
                guard let value = item.value, !value.isEmpty else { throw .invalidURL("sslrootcert needs a file path") }
                rootCertificatePath = value
            default:
                throw .invalidURL("unsupported parameter \"\(item.name)\" (supported: \(Self.supportedParameters.joined(separator: ", ")))")
            }
        }
        if rootCertificatePath != nil, mode != .verifyCA, mode != .verifyFull {
            throw .invalidURL("sslrootcert is used only with sslmode=verify-ca or verify-full")
        }
        if mode == .verifyFull, Self.isIPAddress(host) {
            // postgres-nio checks the certificate's name only against a host name (it sends no SNI for an
            // address), so verify-full would quietly check less than it says.
            throw .invalidURL("sslmode=verify-full needs a host name, which the certificate must carry; with an IP address use verify-ca")
        }
        tlsMode = mode
        self.rootCertificatePath = rootCertificatePath
    }

    private static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return inet_pton(AF_INET, bare, &v4) == 1 || inet_pton(AF_INET6, bare, &v6) == 1
    }

    /// What TLS this URL asks for, before it is shaped for the pool or for one connection.
    enum TLSChoice {
        case disable
        case prefer(TLSConfiguration)
        case require(TLSConfiguration)
    }

    /// This URL's TLS; reads `sslrootcert` now, so a missing or unreadable file fails at start.
    func tlsChoice() throws(PostgresStoreError) -> TLSChoice {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch tlsMode {
        case .disable:
            return .disable
        case .allow, .prefer:
            configuration.certificateVerification = .none
            return .prefer(configuration)
        case .require:
            configuration.certificateVerification = .none
            return .require(configuration)
        case .verifyCA, .verifyFull:
            configuration.certificateVerification = tlsMode == .verifyFull ? .fullVerification : .noHostnameVerification
            if let rootCertificatePath {
                do {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificatePath))
                } catch {
                    throw .invalidURL("sslrootcert \(rootCertificatePath) could not be read as PEM certificates")
                }
            }
            return .require(configuration)
        }
    }

    /// The pool's configuration: this URL's server, credentials and TLS.
    func clientConfiguration() throws(PostgresStoreError) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS = switch try tlsChoice() {
        case .disable: .disable
        case .prefer(let configuration): .prefer(configuration)
        case .require(let configuration): .require(configuration)
        }
        return PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }

    /// The same for one connection outside the pool (the start-up check).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS = switch try tlsChoice() {
        case .disable: .disable
        case .prefer(let configuration): .prefer(try NIOSSLContext(configuration: configuration))
        case .require(let configuration): .require(try NIOSSLContext(configuration: configuration))
        }
        return PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }
}
