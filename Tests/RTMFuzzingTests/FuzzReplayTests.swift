import Foundation
import RTMFuzzing
import Testing

/// Every input kept for the fuzzers (seed corpora in `Fuzz/corpus/<entry>`, inputs that once crashed in
/// `Fuzz/crashes/<entry>`) runs through the same entry the libFuzzer binary runs; a defect traps.
@Suite struct FuzzReplayTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func keptInputs(_ entry: FuzzEntry) throws -> [(String, [UInt8])] {
        var inputs: [(String, [UInt8])] = []
        for folder in ["corpus", "crashes"] {
            let directory = fuzzDirectory.appendingPathComponent(folder).appendingPathComponent(entry.rawValue)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { continue }
            for name in names.sorted() where !name.hasPrefix(".") {
                inputs.append(("\(folder)/\(entry.rawValue)/\(name)",
                               Array(try Data(contentsOf: directory.appendingPathComponent(name)))))
            }
        }
        return inputs
    }

    @Test(arguments: FuzzEntry.allCases)
    func keptInputsRunCleanly(_ entry: FuzzEntry) async throws {
        if entry == .restFastPath { await RESTFastPathFuzzing.prepare() }
        let inputs = try Self.keptInputs(entry)
        #expect(inputs.count >= 2, "the seed corpus of \(entry.rawValue) is missing")
        for (_, input) in inputs { entry.run(input) }
    }

    /// The REST entry reaches the fast path (not only NIO's decoder): its seeds hold plain sends it answers.
    @Test func restSeedsReachTheFastPath() async throws {
        await RESTFastPathFuzzing.prepare()
        let before = RESTFastPathFuzzing.fastPathAnswerCount
        for (_, input) in try Self.keptInputs(.restFastPath) { FuzzEntry.restFastPath.run(input) }
        #expect(RESTFastPathFuzzing.fastPathAnswerCount > before)
    }
}
