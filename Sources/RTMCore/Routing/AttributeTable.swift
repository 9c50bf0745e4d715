/// User attributes (the caller's own, cleared with its session) and channel attributes: the
/// attributes concern of the ``Router``, as a value (behind its own lock, last in the router's
/// lock order).
struct AttributeTable {
    struct ChannelAttributeState {
        var attributes: [String: ChannelAttribute] = [:]
        /// Bumped whenever the channel gains a member or attributes, so a pending drop can tell it is stale.
        var generation: UInt64 = 0
    }

    let limits: AttributeLimits
    private(set) var userAttributes: [SessionKey: [String: String]] = [:]
    private(set) var channelAttributes: [ChannelKey: ChannelAttributeState] = [:]

    init(limits: AttributeLimits) {
        self.limits = limits
    }

    // MARK: User attributes

    mutating func writeUser(_ key: SessionKey, _ write: AttributeWrite) -> AttributeOutcome {
        switch apply(write, to: userAttributes[key] ?? [:], totalLimit: limits.maximumUserTotalBytes) {
        case .failure(let outcome): return outcome
        case .success(let updated):
            userAttributes[key] = updated.isEmpty ? nil : updated
            return .ok
        }
    }

    /// The user's attributes (all, or just `keys`), sorted by key.
    func user(_ key: SessionKey, keys: [String]?) -> [AttributeEntry] {
        let all = userAttributes[key] ?? [:]
        return all.keys.sorted().filter { keys?.contains($0) ?? true }.compactMap { name in
            all[name].map { AttributeEntry(key: name, value: $0) }
        }
    }

    mutating func sessionRemoved(_ key: SessionKey) {
        userAttributes.removeValue(forKey: key)
    }

    // MARK: Channel attributes

    /// Applies `write` as `user` at `now`; the complete set after it, or the refusal.
    mutating func writeChannel(_ key: ChannelKey, by user: UserID, _ write: AttributeWrite, now: Int64)
        -> Result<[ChannelAttribute], AttributeOutcome>
    {
        var state = channelAttributes[key] ?? ChannelAttributeState()
        let updated: [String: String]
        switch apply(write, to: state.attributes.mapValues(\.value), totalLimit: limits.maximumChannelTotalBytes) {
        case .failure(let outcome): return .failure(outcome)
        case .success(let result): updated = result
        }
        let touched: Set<String> = switch write {
        case .replaceAll(let entries), .addOrUpdate(let entries): Set(entries.map(\.key))
        case .deleteKeys, .clear: []
        }
        var attributes: [String: ChannelAttribute] = [:]
        for (name, value) in updated {
            if !touched.contains(name), let kept = state.attributes[name] {
                attributes[name] = kept
            } else {
                attributes[name] = ChannelAttribute(key: name, value: value, lastUpdateUserID: user, lastUpdateTimestamp: now)
            }
        }
        state.attributes = attributes
        state.generation &+= 1
        channelAttributes[key] = state
        return .success(Self.sorted(attributes))
    }

    /// Sets the channel's whole set as another node wrote it (an empty set removes it).
    mutating func replaceChannel(_ key: ChannelKey, with attributes: [ChannelAttribute]) {
        guard !attributes.isEmpty else {
            channelAttributes.removeValue(forKey: key)
            return
        }
        var state = channelAttributes[key] ?? ChannelAttributeState()
        state.attributes = Dictionary(attributes.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
        state.generation &+= 1
        channelAttributes[key] = state
    }

    /// Every channel's attributes (a node announcing what it holds).
    var allChannelAttributes: [(ChannelKey, [ChannelAttribute])] {
        channelAttributes.map { ($0.key, Self.sorted($0.value.attributes)) }
    }

    /// The channel's attributes (all, or just `keys`), sorted by key.
    func channel(_ key: ChannelKey, keys: [String]?) -> [ChannelAttribute] {
        Self.sorted(channelAttributes[key]?.attributes ?? [:]).filter { keys?.contains($0.key) ?? true }
    }

    /// The channel gained a member: a pending drop of its attributes is void now.
    mutating func channelGainedMember(_ key: ChannelKey) {
        channelAttributes[key]?.generation &+= 1
    }

    /// The generation a drop scheduled now must still find, or `nil` if the channel has no attributes.
    func dropGeneration(_ key: ChannelKey) -> UInt64? { channelAttributes[key]?.generation }

    /// Drops the channel's attributes if nothing touched them since `generation`.
    mutating func drop(_ key: ChannelKey, ifStill generation: UInt64) {
        guard channelAttributes[key]?.generation == generation else { return }
        channelAttributes.removeValue(forKey: key)
    }

    // MARK: Validation

    /// Whether `key` is 1–32 bytes of visible ASCII.
    func isValidKey(_ key: String) -> Bool {
        let bytes = key.utf8
        return !bytes.isEmpty && bytes.count <= limits.maximumKeyBytes && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    private func apply(_ write: AttributeWrite, to current: [String: String], totalLimit: Int)
        -> Result<[String: String], AttributeOutcome>
    {
        var updated = current
        switch write {
        case .replaceAll(let entries), .addOrUpdate(let entries):
            if case .replaceAll = write { updated = [:] }
            for entry in entries {
                guard isValidKey(entry.key), !entry.value.isEmpty else { return .failure(.invalidArgument) }
                guard entry.value.utf8.count <= limits.maximumValueBytes else { return .failure(.sizeOverflow) }
                updated[entry.key] = entry.value
            }
        case .deleteKeys(let keys):
            guard keys.allSatisfy(isValidKey) else { return .failure(.invalidArgument) }
            for key in keys { updated.removeValue(forKey: key) }
        case .clear:
            updated = [:]
        }
        let total = updated.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard updated.count <= limits.maximumCount, total <= totalLimit else { return .failure(.sizeOverflow) }
        return .success(updated)
    }

    static func sorted(_ attributes: [String: ChannelAttribute]) -> [ChannelAttribute] {
        attributes.keys.sorted().compactMap { attributes[$0] }
    }
}
