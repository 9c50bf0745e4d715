import AgoraToken
import ArgumentParser
import Foundation

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Print an RTM token (Agora 006 or 007).")

    @Option(name: .customLong("app-id")) var appID: String
    @Option(name: .customLong("app-certificate"),
            help: "The app certificate (visible in ps; prefer --app-certificate-file or RTM_APP_CERTIFICATE).")
    var appCertificateValue: String?
    @Option(name: .customLong("app-certificate-file"), help: "A file holding the app certificate.") var appCertificateFile: String?
    @Option(name: .customLong("user-id")) var userID: String
    @Option(help: "Lifetime in seconds (007), or privilege lifetime from now (006; 0 = none).") var expire: UInt32 = 3600
    @Option(help: "007 or 006.") var format: String = "007"

    func validate() throws {
        guard ["006", "007"].contains(format) else { throw ValidationError("--format must be 007 or 006.") }
    }

    func run() throws {
        guard let appCertificate = try SecretInput.appCertificate.resolve(value: appCertificateValue, file: appCertificateFile) else {
            throw ValidationError("Give the app certificate: --app-certificate-file, RTM_APP_CERTIFICATE or --app-certificate.")
        }
        guard appID.utf8.count == 32, appCertificate.utf8.count == 32 else {
            throw ValidationError("The app id and the app certificate must be 32 characters each.")
        }
        let now = UInt32(Date().timeIntervalSince1970)
        switch format {
        case "006":
            print(RTMToken.build006(appID: appID, certificate: appCertificate, userID: userID,
                                    privilegeExpiredTs: expire == 0 ? 0 : now + expire, builtAt: now))
        default:
            print(RTMToken.build007(appID: appID, certificate: appCertificate, userID: userID, expireSeconds: expire, issuedAt: now))
        }
    }
}
