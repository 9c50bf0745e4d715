// Shows why `rtm serve` keeps its connections below its file-descriptor limit (docs/OPERATIONS.md,
// "File descriptors and max_connections"): on Linux, libdispatch checks its thread pool once a
// second by opening /proc/<tid>/stat, and traps (SIGILL, in _dispatch_workq_monitor_pools) when the
// open fails while work waits for a thread. Run it with a low limit:
//
//   swiftc -O scripts/dispatch-emfile-trap.swift -o /tmp/dispatch-emfile-trap
//   (ulimit -n 64; /tmp/dispatch-emfile-trap; echo "exit status $?")   # 132: SIGILL
//
// Under gdb the trapping frame is _dispatch_workq_monitor_pools.cold.1 in libdispatch.so.
import Foundation

setvbuf(stdout, nil, _IONBF, 0)
var held: [Int32] = []
for _ in 0..<1_000_000 {
    let descriptor = open("/dev/null", O_RDONLY)
    if descriptor < 0 { break }
    held.append(descriptor)
}
print("holding \(held.count) descriptors; keeping libdispatch's pool busy for 5 s")
let end = ContinuousClock.now + .seconds(5)
let queue = DispatchQueue.global()
let group = DispatchGroup()
for _ in 0..<64 {
    queue.async(group: group) {
        var sum = 0
        while ContinuousClock.now < end { for i in 0..<100_000 { sum &+= i } }
        if sum == 1 { print(sum) }
    }
}
group.wait()
print("survived: the trap did not fire")
