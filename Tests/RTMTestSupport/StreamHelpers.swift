/// The first element of `stream` that matches, or `nil` if none comes within `limit`.
/// (Only for streams whose consumer may be abandoned on time-out: a time-out ends the stream.)
package func first<Element: Sendable>(_ stream: AsyncStream<Element>, within limit: Duration = .seconds(10),
                              where matches: @escaping @Sendable (Element) -> Bool = { _ in true }) async -> Element? {
    await withTaskGroup(of: Element?.self) { group in
        group.addTask {
            for await element in stream where matches(element) { return element }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let result = await group.next() ?? nil
        group.cancelAll()
        return result
    }
}

/// Collects `count` elements of `stream` (fewer if `limit` passes first).
package func collect<Element: Sendable>(_ stream: AsyncStream<Element>, count: Int, within limit: Duration = .seconds(10),
                                where matches: @escaping @Sendable (Element) -> Bool = { _ in true }) async -> [Element] {
    await withTaskGroup(of: [Element]?.self) { group in
        group.addTask {
            var collected: [Element] = []
            for await element in stream where matches(element) {
                collected.append(element)
                if collected.count == count { break }
            }
            return collected
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let result = await group.next() ?? nil
        group.cancelAll()
        return result ?? []
    }
}

/// Polls `condition` every 10 ms for at most 10 s (bounded); whether it became true.
@discardableResult
package func waitUntil(_ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<1_000 {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return false
}
