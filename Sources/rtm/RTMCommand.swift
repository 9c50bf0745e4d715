import ArgumentParser

/// `rtm`: the swift-rtm server and its tools.

struct RTMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtm",
        abstract: "A self-hosted, Agora RTM-compatible real-time messaging server and its tools.",
        subcommands: [ServeCommand.self, TokenCommand.self, AppCommand.self, CredentialCommand.self,
                      SendCommand.self, ListenCommand.self])
}
