import Foundation

/// Standard-alphabet, padded base64 with no tolerance for stray characters (`tokens.md` §1).
enum StrictBase64 {
    static func decode(_ text: Substring) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 4 == 0 else { return nil }
        for byte in utf8 {
            let ok = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || (byte >= 0x30 && byte <= 0x39) || byte == 0x2B || byte == 0x2F || byte == 0x3D
            if !ok { return nil }
        }
        // '=' only as padding at the very end.
        if let firstPad = utf8.firstIndex(of: 0x3D) {
            guard utf8.count - firstPad <= 2, utf8[firstPad...].allSatisfy({ $0 == 0x3D }) else { return nil }
        }
        guard let data = Data(base64Encoded: Data(utf8)) else { return nil }
        // Reject non-canonical encodings (unused bits set): re-encode and compare.
        guard data.base64EncodedData() == Data(utf8) else { return nil }
        return [UInt8](data)
    }

    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }
}
