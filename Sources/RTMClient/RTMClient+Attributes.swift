import RTMProtocol

extension RTMClient {
    // MARK: User attributes (the local user's own; cleared at logout)

    /// Replaces all of the local user's attributes. - Throws: `AttributeOperationErrorCode`.
    public func setLocalUserAttributes(_ attributes: [RTMAttribute]) async throws(AttributeOperationErrorCode) {
        try await writeUser(.setLocalUserAttributes(attributes)) { local in
            local = Dictionary(attributes.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        }
    }

    /// Adds or updates some of the local user's attributes. - Throws: `AttributeOperationErrorCode`.
    public func addOrUpdateLocalUserAttributes(_ attributes: [RTMAttribute]) async throws(AttributeOperationErrorCode) {
        try await writeUser(.addOrUpdateLocalUserAttributes(attributes)) { local in
            for attribute in attributes { local[attribute.key] = attribute.value }
        }
    }

    /// Deletes the local user's attributes with these keys. - Throws: `AttributeOperationErrorCode`.
    public func deleteLocalUserAttributes(byKeys keys: [String]) async throws(AttributeOperationErrorCode) {
        try await writeUser(.deleteLocalUserAttributesByKeys(keys)) { local in
            for key in keys { local.removeValue(forKey: key) }
        }
    }

    /// Deletes all of the local user's attributes. - Throws: `AttributeOperationErrorCode`.
    public func clearLocalUserAttributes() async throws(AttributeOperationErrorCode) {
        try await writeUser(.clearLocalUserAttributes) { $0 = [:] }
    }

    /// A logged-in user's attributes (all, or only `keys`), sorted by key.
    /// - Throws: `AttributeOperationErrorCode` (`.userNotFound` when the user is offline).
    public func getUserAttributes(_ userID: String, keys: [String]? = nil) async throws(AttributeOperationErrorCode) -> [RTMAttribute] {
        let reply = try await call(.getUserAttributes(userID: userID, keys: keys), notLoggedIn: AttributeOperationErrorCode.userNotLoggedIn, interrupted: AttributeOperationErrorCode.timeout)
        guard reply.code == ReplyCode.ok else { throw AttributeOperationErrorCode(rawValue: reply.code) ?? .failure }
        return (reply.fields["attributes"]?.arrayValue ?? []).compactMap { element in
            guard let object = element.objectValue, let key = object["key"]?.stringValue, let value = object["value"]?.stringValue
            else { return nil }
            return RTMAttribute(key: key, value: value)
        }
    }

    private func writeUser(_ request: ClientRequest, remember: @escaping @Sendable (inout [String: String]) -> Void)
        async throws(AttributeOperationErrorCode)
    {
        let reply = try await call(request, notLoggedIn: AttributeOperationErrorCode.userNotLoggedIn, interrupted: AttributeOperationErrorCode.timeout)
        guard reply.code == ReplyCode.ok else { throw AttributeOperationErrorCode(rawValue: reply.code) ?? .failure }
        await engine.didWriteAttributes(remember)
    }

    // MARK: Channel attributes (membership not needed)

    /// Replaces a channel's attributes; with `notify`, members get the complete set.
    /// - Throws: `AttributeOperationErrorCode`.
    public func setChannelAttributes(_ channel: String, _ attributes: [RTMAttribute], notify: Bool = false)
        async throws(AttributeOperationErrorCode)
    {
        try await writeChannel(.setChannelAttributes(channel: channel, attributes: attributes, notify: notify))
    }

    /// Adds or updates some of a channel's attributes. - Throws: `AttributeOperationErrorCode`.
    public func addOrUpdateChannelAttributes(_ channel: String, _ attributes: [RTMAttribute], notify: Bool = false)
        async throws(AttributeOperationErrorCode)
    {
        try await writeChannel(.addOrUpdateChannelAttributes(channel: channel, attributes: attributes, notify: notify))
    }

    /// Deletes some of a channel's attributes. - Throws: `AttributeOperationErrorCode`.
    public func deleteChannelAttributes(_ channel: String, byKeys keys: [String], notify: Bool = false)
        async throws(AttributeOperationErrorCode)
    {
        try await writeChannel(.deleteChannelAttributesByKeys(channel: channel, keys: keys, notify: notify))
    }

    /// Deletes all of a channel's attributes. - Throws: `AttributeOperationErrorCode`.
    public func clearChannelAttributes(_ channel: String, notify: Bool = false) async throws(AttributeOperationErrorCode) {
        try await writeChannel(.clearChannelAttributes(channel: channel, notify: notify))
    }

    /// A channel's attributes (all, or only `keys`), sorted by key, with who last wrote each and when.
    /// - Throws: `AttributeOperationErrorCode`.
    public func getChannelAttributes(_ channel: String, keys: [String]? = nil) async throws(AttributeOperationErrorCode)
        -> [ChannelAttributeValue]
    {
        let reply = try await call(.getChannelAttributes(channel: channel, keys: keys), notLoggedIn: AttributeOperationErrorCode.userNotLoggedIn, interrupted: AttributeOperationErrorCode.timeout)
        guard reply.code == ReplyCode.ok else { throw AttributeOperationErrorCode(rawValue: reply.code) ?? .failure }
        return ChannelAttributeValue.read(reply.fields["attributes"])
    }

    private func writeChannel(_ request: ClientRequest) async throws(AttributeOperationErrorCode) {
        let reply = try await call(request, notLoggedIn: AttributeOperationErrorCode.userNotLoggedIn, interrupted: AttributeOperationErrorCode.timeout)
        guard reply.code == ReplyCode.ok else { throw AttributeOperationErrorCode(rawValue: reply.code) ?? .failure }
    }
}
