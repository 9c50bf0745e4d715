import Foundation

/// Writes a line to standard output at once (output may be piped to another program).
func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
