import Foundation
import GRDB

/// How message text (payloads, raw descriptions) is kept: a BLOB of its UTF-8 bytes, never a TEXT
/// value. GRDB binds and reads text as C strings, so a TEXT value ends at its first U+0000 (a payload
/// `"a\u0000b"` came back as `"a"`); a BLOB keeps every byte. Migration `v4-payloads-as-utf8-blobs`
/// converted the columns of earlier databases.
enum StoredText {
    /// The value to bind for `text`.
    static func value(_ text: String) -> Data { Data(text.utf8) }

    /// The text in `column` of `row`; `nil` for NULL.
    static func text(_ row: Row, _ column: String) -> String? {
        (row[column] as Data?).map { String(decoding: $0, as: UTF8.self) }
    }
}
