/// Little-endian packer used by both token formats (`tokens.md` §1).
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(value & 0xFF))
        bytes.append(UInt8(value >> 8))
    }

    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8((value >> UInt32(shift)) & 0xFF)) }
    }

    mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }

    /// `u16` length, then the bytes.
    mutating func lengthPrefixed(_ data: [UInt8]) {
        u16(UInt16(data.count))
        bytes.append(contentsOf: data)
    }

    mutating func lengthPrefixed(_ string: String) { lengthPrefixed(Array(string.utf8)) }

    /// `u16` count, then `u16` key / `u32` value pairs in ascending key order.
    mutating func privilegeMap(_ map: [UInt16: UInt32]) {
        u16(UInt16(map.count))
        for key in map.keys.sorted() {
            u16(key)
            u32(map[key]!)
        }
    }
}

/// Reads the packer's primitives; every read fails with `nil` on a short buffer.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func u16() -> UInt16? {
        guard offset + 2 <= bytes.count else { return nil }
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    mutating func u32() -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[offset + index]) << UInt32(8 * index) }
        offset += 4
        return value
    }

    mutating func raw(count: Int) -> [UInt8]? {
        guard count >= 0, offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func lengthPrefixed() -> [UInt8]? {
        guard let count = u16() else { return nil }
        return raw(count: Int(count))
    }

    mutating func privilegeMap() -> [UInt16: UInt32]? {
        guard let count = u16() else { return nil }
        var map: [UInt16: UInt32] = [:]
        for _ in 0..<count {
            guard let key = u16(), let value = u32() else { return nil }
            if map[key] == nil { map[key] = value }
        }
        return map
    }

    /// The bytes from `start` up to the current offset.
    func slice(from start: Int) -> [UInt8] { Array(bytes[start..<offset]) }
}
