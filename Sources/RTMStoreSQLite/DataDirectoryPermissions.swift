import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps the data directory and the database files readable by the server's user alone.
///
/// SQLite creates the `-wal` and `-shm` files with the permissions of the database file, so
/// creating the database file 0600 before SQLite opens it covers all three.
enum DataDirectoryPermissions {
    /// The directory's permissions: the owner only.
    static let directoryMode: mode_t = 0o700
    /// The database files' permissions: the owner may read and write, nobody else anything.
    static let fileMode: mode_t = 0o600

    /// Creates `directory` (and its parents) if needed, restricts it and the database files it
    /// already holds, creates an empty database file with private permissions if there is none,
    /// and returns the database file's path.
    static func prepare(directory: URL, databaseName: String) throws -> String {
        let files = FileManager.default
        try files.createDirectory(at: directory, withIntermediateDirectories: true,
                                  attributes: [.posixPermissions: Int(directoryMode)])
        try restrict(directory.path, to: directoryMode)
        let database = directory.appendingPathComponent(databaseName).path
        for suffix in ["", "-wal", "-shm", "-journal"] where files.fileExists(atPath: database + suffix) {
            try restrict(database + suffix, to: fileMode)
        }
        if !files.fileExists(atPath: database) {
            // An empty file is a valid empty SQLite database; creating it here fixes its mode.
            let descriptor = open(database, O_CREAT | O_WRONLY | O_CLOEXEC, fileMode)
            guard descriptor >= 0 else { throw PermissionError(path: database, errno: errno) }
            close(descriptor)
            try restrict(database, to: fileMode)
        }
        return database
    }

    private static func restrict(_ path: String, to mode: mode_t) throws {
        guard chmod(path, mode) == 0 else { throw PermissionError(path: path, errno: errno) }
    }

    /// A data directory or database file whose permissions could not be set.
    struct PermissionError: Error, CustomStringConvertible {
        let path: String
        let errno: Int32
        var description: String { "cannot make \(path) private to this user: \(String(cString: strerror(errno)))" }
    }
}
