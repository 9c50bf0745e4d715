import NIOCore
import NIOPosix
import RTMCore

/// The entry point: Swift concurrency on NIO's event loop threads (as `rtm serve`), then the command.
@main
enum BenchMain {
    static func main() async {
        ProcessorAffinity.sizeSingletonEventLoopGroup()   // one loop per CPU of its mask, as `rtm serve`
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await BenchCommand.main()
    }
}
