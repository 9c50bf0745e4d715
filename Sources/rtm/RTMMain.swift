import Foundation
import NIOCore
import NIOPosix
import RTMCore

/// The entry point: picks the executor, then runs the command line.
@main
enum RTMMain {
    static func main() async {
        // One event loop per CPU this process may run on (taskset, cpusets), not per CPU of the machine.
        ProcessorAffinity.sizeSingletonEventLoopGroup()
        // Run Swift concurrency on NIO's event loop threads: tasks then wake on the threads that do
        // the socket I/O, which roughly doubles WebSocket round trips on this kind of machine
        // (STACK-NOTES). Must happen before other tasks run; RTM_NIO_EXECUTOR=0 turns it off.
        if ProcessInfo.processInfo.environment["RTM_NIO_EXECUTOR"] != "0" {
            _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        await RTMCommand.main()
    }
}
