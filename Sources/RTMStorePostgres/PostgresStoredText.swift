import PostgresNIO

/// How message text (payloads, raw descriptions) is kept: `BYTEA` holding its UTF-8 bytes. PostgreSQL's
/// `TEXT` and `JSONB` refuse U+0000 (a payload `"a\u0000b"` failed the insert, a 500), and every valid
/// JSON string must come back byte for byte. Migration 4 converted the columns of earlier databases.
enum PostgresStoredText {
    /// The value to bind for `text`.
    static func value(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// The text a stored value holds.
    static func text(_ bytes: ByteBuffer) -> String { String(buffer: bytes) }
}
