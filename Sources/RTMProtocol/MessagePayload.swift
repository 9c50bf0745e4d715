import Foundation

/// The body of a message on the wire: `text`, or `raw` (base64) with an optional `description`.
public enum MessagePayload: Sendable, Equatable {
    case text(String)
    case raw(base64: String, description: String?)

    /// 32 KB: text bytes, or raw bytes plus description bytes.
    public static let maximumBytes = 32_768

    /// The size the 32 KB limit applies to; `nil` if `raw` is not valid base64.
    public var byteCount: Int? {
        switch self {
        case .text(let text): return text.utf8.count
        case .raw(let base64, let description):
            guard let data = Data(base64Encoded: base64) else { return nil }
            return data.count + (description?.utf8.count ?? 0)
        }
    }

    /// Whether the payload is non-empty, decodable and within 32 KB.
    public var isValid: Bool {
        guard let count = byteCount else { return false }
        if case .text = self, count == 0 { return false }
        if case .raw(let base64, _) = self, base64.isEmpty { return false }
        return count <= Self.maximumBytes
    }

    func write(to writer: inout JSONWriter) {
        switch self {
        case .text(let text): writer.field("text", text)
        case .raw(let base64, let description):
            writer.field("raw", base64)
            if let description { writer.field("description", description) }
        }
    }

    /// Reads `text` or `raw`/`description` from a frame; `nil` if neither is there with the right type.
    static func read(from object: [String: JSONValue]) -> MessagePayload?? {
        if let text = object["text"] {
            guard let value = text.stringValue else { return .some(nil) }
            return .some(.text(value))
        }
        if let raw = object["raw"] {
            guard let value = raw.stringValue else { return .some(nil) }
            var description: String?
            if let field = object["description"] {
                guard let text = field.stringValue else { return .some(nil) }
                description = text
            }
            return .some(.raw(base64: value, description: description))
        }
        return nil
    }
}
