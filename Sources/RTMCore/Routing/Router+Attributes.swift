/// User attributes (the caller's own, cleared with its session) and channel attributes
/// (`client-protocol.md` §6, `agora-rtm-client.md` §5).
extension Router {
    /// The result of an attribute operation; raw values are `ATTRIBUTE_OPERATION_ERR_*`.
    public enum AttributeOutcome: Int, Sendable, Equatable, Error {
        case ok = 0, invalidArgument = 3, sizeOverflow = 4, userNotFound = 6, notLoggedIn = 102
    }

    /// How a write changes the set.
    public enum AttributeWrite: Sendable, Equatable {
        case replaceAll([AttributeEntry])
        case addOrUpdate([AttributeEntry])
        case deleteKeys([String])
        case clear
    }

    // MARK: User attributes

    /// Applies `write` to the caller's own attributes.
    public func writeUserAttributes(_ session: RouterSession, _ write: AttributeWrite) -> AttributeOutcome {
        state.withLock { state in
            guard state.sessions[session.key] === session else { return .notLoggedIn }
            let current = state.userAttributes[session.key] ?? [:]
            switch apply(write, to: current, totalLimit: attributeLimits.maximumUserTotalBytes) {
            case .failure(let outcome): return outcome
            case .success(let updated):
                state.userAttributes[session.key] = updated.isEmpty ? nil : updated
                return .ok
            }
        }
    }

    /// `user`'s attributes (all, or just `keys`), sorted by key; `nil` if the user is not logged in.
    public func userAttributes(of user: UserID, in app: AppID, keys: [String]?) -> [AttributeEntry]? {
        state.withLock { state in
            let key = SessionKey(appID: app, userID: user)
            guard state.sessions[key] != nil else { return nil }
            let all = state.userAttributes[key] ?? [:]
            return all.keys.sorted().filter { keys?.contains($0) ?? true }.map { AttributeEntry(key: $0, value: all[$0]!) }
        }
    }

    // MARK: Channel attributes

    /// Applies `write` to `channel`'s attributes as `user` (who need not be a member). With `notify`,
    /// every member gets the complete set.
    public func writeChannelAttributes(app: AppID, channel: ChannelName, by user: UserID, _ write: AttributeWrite,
                                       notify: Bool) -> AttributeOutcome {
        let key = ChannelKey(appID: app, channel: channel)
        let now = clock.nowMilliseconds()
        return state.withLock { state in
            var channelState = state.channelAttributes[key] ?? ChannelAttributeState()
            let values = channelState.attributes.mapValues(\.value)
            let updated: [String: String]
            switch apply(write, to: values, totalLimit: attributeLimits.maximumChannelTotalBytes) {
            case .failure(let outcome): return outcome
            case .success(let result): updated = result
            }
            var attributes: [String: ChannelAttribute] = [:]
            let touched: Set<String> = switch write {
            case .replaceAll(let entries), .addOrUpdate(let entries): Set(entries.map(\.key))
            case .deleteKeys, .clear: []
            }
            for (name, value) in updated {
                attributes[name] = touched.contains(name) || channelState.attributes[name] == nil
                    ? ChannelAttribute(key: name, value: value, lastUpdateUserID: user, lastUpdateTimestamp: now)
                    : channelState.attributes[name]
            }
            channelState.attributes = attributes
            channelState.generation &+= 1
            state.channelAttributes[key] = channelState
            if state.channels[key]?.members.isEmpty ?? true { scheduleAttributeDrop(key, in: &state) }
            if notify, let members = state.channels[key]?.members.values, !members.isEmpty {
                let body = encoder.encodeBody(.channelAttributesUpdated(channel: channel, attributes: Self.sorted(attributes)))
                for member in members { _ = member.sink.enqueueEvent(body, kind: .other) }
            }
            return .ok
        }
    }

    /// `channel`'s attributes (all, or just `keys`), sorted by key.
    public func channelAttributes(of channel: ChannelName, in app: AppID, keys: [String]?) -> [ChannelAttribute] {
        state.withLock { state in
            let all = state.channelAttributes[ChannelKey(appID: app, channel: channel)]?.attributes ?? [:]
            return Self.sorted(all).filter { keys?.contains($0.key) ?? true }
        }
    }

    static func sorted(_ attributes: [String: ChannelAttribute]) -> [ChannelAttribute] {
        attributes.keys.sorted().map { attributes[$0]! }
    }

    // MARK: Validation

    /// Whether `key` is 1–32 bytes of visible ASCII.
    func isValidAttributeKey(_ key: String) -> Bool {
        let bytes = key.utf8
        return !bytes.isEmpty && bytes.count <= attributeLimits.maximumKeyBytes && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    private func apply(_ write: AttributeWrite, to current: [String: String], totalLimit: Int)
        -> Result<[String: String], AttributeOutcome>
    {
        var updated = current
        switch write {
        case .replaceAll(let entries), .addOrUpdate(let entries):
            if case .replaceAll = write { updated = [:] }
            for entry in entries {
                guard isValidAttributeKey(entry.key), !entry.value.isEmpty else { return .failure(.invalidArgument) }
                guard entry.value.utf8.count <= attributeLimits.maximumValueBytes else { return .failure(.sizeOverflow) }
                updated[entry.key] = entry.value
            }
        case .deleteKeys(let keys):
            guard keys.allSatisfy(isValidAttributeKey) else { return .failure(.invalidArgument) }
            for key in keys { updated.removeValue(forKey: key) }
        case .clear:
            updated = [:]
        }
        let total = updated.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard updated.count <= attributeLimits.maximumCount, total <= totalLimit else { return .failure(.sizeOverflow) }
        return .success(updated)
    }

    /// Drops the channel's attributes once it has stayed empty for the retention period.
    func scheduleAttributeDrop(_ key: ChannelKey, in state: inout State) {
        guard let generation = state.channelAttributes[key]?.generation else { return }
        let deadline = clock.nowMilliseconds() + graceLimits.channelAttributeRetention.milliseconds
        Task { [clock] in
            do { try await clock.sleep(untilMilliseconds: deadline) } catch { return }
            self.state.withLock { state in
                guard state.channelAttributes[key]?.generation == generation,
                      state.channels[key]?.members.isEmpty ?? true else { return }
                state.channelAttributes.removeValue(forKey: key)
            }
        }
    }
}
