import Foundation
import RTMFuzzing

// The libFuzzer binary for every entry of `FuzzEntry`, plus a canary; `RTM_FUZZ_TARGET` names the one
// to run. Built only with RTM_FUZZ=1 (see Package.swift and scripts/fuzz.sh): without libFuzzer's
// `main` this file has none.

/// What this process fuzzes.
enum Selection {
    case entry(FuzzEntry)
    /// A target that must crash: it proves the build carries coverage and that crashes are seen.
    case canary
}

/// Set once by `LLVMFuzzerInitialize`, before any input runs, on libFuzzer's one thread.
nonisolated(unsafe) var selection = Selection.canary

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    let name = ProcessInfo.processInfo.environment["RTM_FUZZ_TARGET"] ?? ""
    if name == "canary" {
        selection = .canary
    } else if let entry = FuzzEntry(rawValue: name) {
        selection = .entry(entry)
        if entry == .restFastPath { RESTFastPathFuzzing.prepareBlocking() }
    } else {
        let names = (FuzzEntry.allCases.map(\.rawValue) + ["canary"]).joined(separator: ", ")
        FileHandle.standardError.write(Data("set RTM_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    switch selection {
    case .entry(let entry): entry.run(input)
    case .canary: canary(input)
    }
    return 0
}

/// Traps on inputs starting with "FUZ", which coverage guidance finds in seconds and blind chance does not.
func canary(_ input: UnsafeBufferPointer<UInt8>) {
    if input.count >= 3, input[0] == UInt8(ascii: "F") {
        if input[1] == UInt8(ascii: "U") {
            if input[2] == UInt8(ascii: "Z") { fatalError("the canary found its input") }
        }
    }
}
