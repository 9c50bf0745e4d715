/// The body of a peer or channel message.
package enum MessageContent: Sendable, Equatable {
    /// A UTF-8 text message.
    case text(String)
    /// Binary data, kept base64-encoded as it travels on the wire, with an optional description.
    case raw(base64: String, description: String?)

    /// The most bytes a message may carry (`agora-rtm-client.md` §2.2): 32 KB counted as 32,768
    /// bytes of UTF-8 text, or of raw data plus description.
    package static let maximumBytes = 32_768

    /// A text message, or `nil` when it is empty or over ``maximumBytes`` of UTF-8.
    package static func validatedText(_ text: String) -> MessageContent? {
        let count = text.utf8.count
        guard count > 0, count <= maximumBytes else { return nil }
        return .text(text)
    }
}
