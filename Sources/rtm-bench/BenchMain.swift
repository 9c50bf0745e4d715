import NIOCore
import NIOPosix

/// The entry point: Swift concurrency on NIO's event loop threads (as `rtm serve`), then the command.
@main
enum BenchMain {
    static func main() async {
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await BenchCommand.main()
    }
}
