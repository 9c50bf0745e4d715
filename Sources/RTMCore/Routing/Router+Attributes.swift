/// User attributes (the caller's own, cleared with its session) and channel attributes
/// (`client-protocol.md` §6, `agora-rtm-client.md` §5).
/// The result of an attribute operation (``Broker``); raw values are `ATTRIBUTE_OPERATION_ERR_*`.
package enum AttributeOutcome: Int, Sendable, Equatable, Error {
    case ok = 0, invalidArgument = 3, sizeOverflow = 4, userNotFound = 6, notLoggedIn = 102
}

/// How an attribute write (``Broker``) changes the set.
package enum AttributeWrite: Sendable, Equatable {
    case replaceAll([AttributeEntry])
    case addOrUpdate([AttributeEntry])
    case deleteKeys([String])
    case clear
}

extension Router {
    // MARK: User attributes

    /// Applies `write` to the caller's own attributes.
    package func writeUserAttributes(_ session: RouterSession, _ write: AttributeWrite) -> AttributeOutcome {
        sessionTable.withLock { sessions in
            guard sessions.isCurrent(session) else { return .notLoggedIn }
            return attributeTable.withLock { attributes in
                let outcome = attributes.writeUser(session.key, write)
                if outcome == .ok, let cluster {
                    cluster.changed(.userAttributes(session.appID, session.userID, attributes.user(session.key, keys: nil)))
                }
                return outcome
            }
        }
    }

    /// `user`'s attributes (all, or just `keys`), sorted by key; `nil` if the user is not logged in.
    package func userAttributes(of user: UserID, in app: AppID, keys: [String]?) -> [AttributeEntry]? {
        let key = SessionKey(appID: app, userID: user)
        return sessionTable.withLock { sessions in
            guard sessions.current(key) != nil else {
                guard let entries = cluster?.attributesElsewhere(of: user, in: app) else { return nil }
                let wanted = keys.map(Set.init)
                return entries.filter { wanted?.contains($0.key) ?? true }.sorted { $0.key < $1.key }
            }
            return attributeTable.withLock { $0.user(key, keys: keys) }
        }
    }

    // MARK: Channel attributes

    /// Applies `write` to `channel`'s attributes as `user` (who need not be a member). With `notify`,
    /// every member gets the complete set.
    package func writeChannelAttributes(app: AppID, channel: ChannelName, by user: UserID, _ write: AttributeWrite,
                                       notify: Bool) -> AttributeOutcome {
        let key = ChannelKey(appID: app, channel: channel)
        let now = clock.nowMilliseconds()
        return channelTable.withLock { channels in
            attributeTable.withLock { attributes in
                switch attributes.writeChannel(key, by: user, write, now: now) {
                case .failure(let outcome):
                    return outcome
                case .success(let all):
                    cluster?.changed(.channelAttributes(app, channel, all, notify: notify))
                    let members = channels.members(of: key)
                    if members.isEmpty { scheduleAttributeDrop(key, attributes) }
                    if notify, !members.isEmpty {
                        let body = encoder.encodeBody(.channelAttributesUpdated(channel: channel, attributes: all))
                        for member in members.values { _ = member.sink.enqueueEvent(body, kind: .other) }
                    }
                    return .ok
                }
            }
        }
    }

    /// `channel`'s attributes (all, or just `keys`), sorted by key.
    package func channelAttributes(of channel: ChannelName, in app: AppID, keys: [String]?) -> [ChannelAttribute] {
        attributeTable.withLock { $0.channel(ChannelKey(appID: app, channel: channel), keys: keys) }
    }

    /// Drops the channel's attributes once it has stayed empty for the retention period (the
    /// attributes lock held to read their generation).
    func scheduleAttributeDrop(_ key: ChannelKey, _ attributes: AttributeTable) {
        guard let generation = attributes.dropGeneration(key) else { return }
        let deadline = clock.nowMilliseconds() + graceLimits.channelAttributeRetention.milliseconds
        Task { [clock] in
            do { try await clock.sleep(untilMilliseconds: deadline) } catch { return }
            self.channelTable.withLock { channels in
                guard channels.isEmpty(key) else { return }
                self.attributeTable.withLock { $0.drop(key, ifStill: generation) }
            }
        }
    }
}
