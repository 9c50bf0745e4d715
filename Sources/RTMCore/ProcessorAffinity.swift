import Foundation
import NIOCore

/// The CPUs this process may run on (its affinity mask, as `taskset` or a container's cpuset sets it).
///
/// NIO sizes its event loop group from the machine's core count, which ignores the mask: a server
/// pinned to one core would run two event loops on it, each handing work to the other. `rtm` and
/// `rtm-bench` size the group from this instead (unless `NIO_SINGLETON_GROUP_LOOP_COUNT` is set).
package enum ProcessorAffinity {
    /// Sizes NIO's singleton event loop group to the CPUs this process may run on, unless
    /// `NIO_SINGLETON_GROUP_LOOP_COUNT` says otherwise. Call first thing, before the group is used.
    package static func sizeSingletonEventLoopGroup() {
        guard ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil, let cpus = allowedCount() else { return }
        NIOSingletons.groupLoopCountSuggestion = cpus
    }

    /// How many CPUs the calling process may run on, from `Cpus_allowed_list` in `/proc/self/status`;
    /// nil where that file does not exist (not Linux) or cannot be read.
    package static func allowedCount() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
        return count(inCPUList: line.dropFirst("Cpus_allowed_list:".count))
    }

    /// The number of CPUs in a kernel CPU list such as `0`, `0-3` or `0,2-3,8`; nil if it is malformed or empty.
    package static func count(inCPUList list: Substring) -> Int? {
        var total = 0
        for item in list.split(separator: ",") {
            let bounds = item.trimmingCharacters(in: .whitespaces).split(separator: "-", omittingEmptySubsequences: false)
            guard let first = bounds.first.flatMap({ Int($0) }) else { return nil }
            let last = bounds.count == 2 ? Int(bounds[1]) : (bounds.count == 1 ? first : nil)
            guard let last, last >= first else { return nil }
            total += last - first + 1
        }
        return total > 0 ? total : nil
    }
}
