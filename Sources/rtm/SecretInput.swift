import ArgumentParser
import Foundation

/// A secret the command line needs (an app certificate, a customer secret), read so that it need
/// not appear in `ps` or the shell's history: from `--NAME-file PATH` or the environment variable.
/// `--NAME VALUE` still works (scripts use it) but is visible to other local users; when it or the
/// file is given, it wins over the environment, as flags do everywhere else.
struct SecretInput {
    /// The flag's long name, e.g. `app-certificate`.
    let flag: String
    /// The environment variable read when neither flag is given, e.g. `RTM_APP_CERTIFICATE`.
    let environmentKey: String

    /// A secret file larger than this is refused (certificates and secrets are 32 characters).
    static let maximumFileBytes = 4096

    static let appCertificate = SecretInput(flag: "app-certificate", environmentKey: "RTM_APP_CERTIFICATE")
    static let customerSecret = SecretInput(flag: "customer-secret", environmentKey: "RTM_CUSTOMER_SECRET")

    /// The secret from exactly one of the value flag, the file flag or the environment, or nil when
    /// none gives one. Giving both flags is an error; so is an empty or oversized file.
    func resolve(value: String?, file: String?,
                 environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        if value != nil, file != nil {
            throw ValidationError("Give --\(flag) or --\(flag)-file, not both.")
        }
        if let value { return value }
        if let file { return try Self.read(file, flag: "--\(flag)-file") }
        if let fromEnvironment = environment[environmentKey], !fromEnvironment.isEmpty { return fromEnvironment }
        return nil
    }

    /// The file's content without its trailing line break.
    private static func read(_ path: String, flag: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ValidationError("\(flag): cannot read \(path).")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maximumFileBytes + 1)) ?? Data()
        guard data.count <= maximumFileBytes else {
            throw ValidationError("\(flag): \(path) is larger than \(maximumFileBytes) bytes; it should hold only the secret.")
        }
        var text = String(decoding: data, as: UTF8.self)
        while let last = text.last, last.isNewline { text.removeLast() }
        guard !text.isEmpty else { throw ValidationError("\(flag): \(path) is empty.") }
        return text
    }
}
