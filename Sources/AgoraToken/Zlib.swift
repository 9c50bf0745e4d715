import CZlib

/// The few zlib calls the token formats need: CRC-32 (006) and deflate/inflate (007).
package enum Zlib {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { buffer in
            UInt32(CZlib.crc32(0, buffer.baseAddress, uInt(buffer.count)))
        }
    }

    /// A zlib stream (RFC 1950) at the default level, as Agora's builders write it.
    package static func compress(_ input: [UInt8]) -> [UInt8] {
        var destinationLength = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(destinationLength))
        let status = output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { source in
                compress2(out.baseAddress, &destinationLength, source.baseAddress, uLong(input.count), Z_DEFAULT_COMPRESSION)
            }
        }
        precondition(status == Z_OK, "zlib compress2 failed with \(status)")
        return Array(output.prefix(Int(destinationLength)))
    }

    /// Inflates a complete zlib stream; `nil` if it is invalid, truncated, followed by junk,
    /// or would inflate beyond `limit` bytes (tokens are small, so a bomb is refused early).
    static func decompress(_ input: [UInt8], limit: Int = 64 * 1024) -> [UInt8]? {
        guard !input.isEmpty else { return nil }
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var input = input
        return input.withUnsafeMutableBufferPointer { source -> [UInt8]? in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            while true {
                let status: Int32 = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                output.append(contentsOf: chunk.prefix(produced))
                if output.count > limit { return nil }
                switch status {
                case Z_STREAM_END:
                    return stream.avail_in == 0 ? output : nil
                case Z_OK:
                    if produced == 0 && stream.avail_in == 0 { return nil }
                default:
                    return nil
                }
            }
        }
    }
}
