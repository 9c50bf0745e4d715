import NIOCore

/// A member leaving a channel, to be announced outside the lock.
struct Departure {
    var channel: ChannelKey
    var user: UserID
    /// The members left to tell `member_left`: all of them in a small channel, none past the threshold.
    var toAnnounce: [RouterSession]
    var remainingCount: Int
}

extension Router {
    // MARK: Joining and leaving

    /// Adds `session` to `channel`; other members get `member_joined` (up to the event threshold)
    /// and a paced `member_count`. `beforeAnnouncing` runs once the join is recorded and before any
    /// event about it is queued, so the caller can queue its reply (and the joiner's own count) first.
    public func join(_ session: RouterSession, channel: ChannelName,
                     beforeAnnouncing: (JoinOutcome) -> Void = { _ in }) -> JoinOutcome {
        let key = ChannelKey(appID: session.appID, channel: channel)
        let result = state.withLock { state -> (JoinOutcome, [RouterSession], Bool) in
            guard state.sessions[session.key] === session else { return (.notLoggedIn, [], false) }
            var joined = state.joined[session.key] ?? []
            if joined.contains(channel) { return (.alreadyJoined, [], false) }
            if joined.count >= limits.maximumJoinedChannels { return (.exceedLimit, [], false) }
            joined.insert(channel)
            state.joined[session.key] = joined
            state.channelAttributes[key]?.generation &+= 1  // a pending drop of its attributes is void now
            // Mutated in place (copying the channel out and back would copy its member table on every join).
            state.channels[key, default: ChannelState()].members[session.userID] = session
            let members = state.channels[key]?.members ?? [:]
            record(.join, session.userID, in: session.appID, channel: channel)
            let announce = members.count <= limits.memberEventThreshold
            let others = announce ? members.values.filter { $0 !== session } : []
            return (.joined(memberCount: members.count), others, announce)
        }
        let (outcome, others, announce) = result
        beforeAnnouncing(outcome)
        if case .joined = outcome {
            if announce && !others.isEmpty {
                let body = encoder.encodeBody(.memberJoined(channel: channel, user: session.userID))
                for member in others { _ = member.sink.enqueueEvent(body, kind: .other) }
            }
            scheduleMemberCount(key, skippingImmediate: session.userID)
        }
        return outcome
    }

    /// Removes `session` from `channel`; remaining members get `member_left`.
    public func leave(_ session: RouterSession, channel: ChannelName) -> LeaveOutcome {
        let key = ChannelKey(appID: session.appID, channel: channel)
        let departure = state.withLock { state -> (LeaveOutcome, Departure?) in
            guard state.sessions[session.key] === session else { return (.notLoggedIn, nil) }
            guard state.joined[session.key]?.remove(channel) != nil else { return (.notInChannel, nil) }
            return (.left, removeMember(session.userID, from: key, in: &state))
        }
        announce(departure.1.map { [$0] } ?? [])
        return departure.0
    }

    /// The channels `session` is in.
    public func joinedChannels(of session: RouterSession) -> Set<ChannelName> {
        state.withLock { $0.sessions[session.key] === session ? $0.joined[session.key] ?? [] : [] }
    }

    /// Whether `session` is currently in `channel`.
    public func isMember(_ session: RouterSession, of channel: ChannelName) -> Bool {
        state.withLock { state in
            state.sessions[session.key] === session && state.joined[session.key]?.contains(channel) == true
        }
    }

    /// Up to `limit` members of `channel`, or `nil` if `session` is not in it.
    public func members(of channel: ChannelName, for session: RouterSession, limit: Int = 512) -> [UserID]? {
        state.withLock { state -> [UserID]? in
            guard state.sessions[session.key] === session, state.joined[session.key]?.contains(channel) == true else { return nil }
            let members = state.channels[ChannelKey(appID: session.appID, channel: channel)]?.members.keys
            return Array((members.map(Array.init) ?? []).shuffled().prefix(limit))
        }
    }

    /// Member counts for `channels` of `app` (0 for a channel nobody is in).
    public func memberCounts(of channels: [ChannelName], in app: AppID) -> [ChannelName: Int] {
        state.withLock { state in
            var counts: [ChannelName: Int] = [:]
            for channel in channels {
                counts[channel] = state.channels[ChannelKey(appID: app, channel: channel)]?.members.count ?? 0
            }
            return counts
        }
    }

    // MARK: Channel messages

    /// Sends a channel message to every member of `channel` except `from`, stamped `serverTimestamp`
    /// (by default, now).
    /// - Returns: the message id, server time and how many connections accepted it.
    public func sendChannel(app: AppID, channel: ChannelName, from: UserID, content: MessageContent, serverTimestamp: Int64? = nil)
        -> (messageID: String, serverTimestamp: Int64, receivers: Int)
    {
        let messageID = messageIDs.next()
        let now = serverTimestamp ?? clock.nowMilliseconds()
        let receivers = state.withLock { state -> [RouterSession] in
            guard let members = state.channels[ChannelKey(appID: app, channel: channel)]?.members else { return [] }
            var list: [RouterSession] = []
            list.reserveCapacity(members.count)
            for (user, session) in members where user != from { list.append(session) }
            return list
        }
        guard !receivers.isEmpty else { return (messageID, now, 0) }
        let body = encoder.encodeBody(.channelMessage(channel: channel, from: from, messageID: messageID,
                                                      content: content, serverTimestamp: now))
        var accepted = 0
        let kind = EventKind.channelMessage(channel, serverTimestamp: now)
        for receiver in receivers where receiver.sink.enqueueEvent(body, kind: kind) { accepted += 1 }
        metrics.channelDelivered.increment(by: Int64(accepted))
        return (messageID, now, accepted)
    }

    // MARK: Internals (called with the lock held)

    /// Removes a session and everything tied to it: channels, subscriptions, user attributes.
    /// Watchers are told OFFLINE unless the session is being `replaced` by a newer login.
    func removeSession(_ session: RouterSession, from state: inout State, replaced: Bool) -> [Departure] {
        state.sessions.removeValue(forKey: session.key)
        state.detached.removeValue(forKey: session.key)
        state.userAttributes.removeValue(forKey: session.key)
        removeSubscriptions(of: session.key, from: &state)
        if !replaced { notifyWatchers(of: session.key, .offline, in: &state) }
        record(.logout, session.userID, in: session.appID)
        let channels = state.joined.removeValue(forKey: session.key) ?? []
        var departures: [Departure] = []
        for channel in channels {
            if let departure = removeMember(session.userID, from: ChannelKey(appID: session.appID, channel: channel), in: &state) {
                departures.append(departure)
            }
        }
        return departures
    }

    func removeMember(_ user: UserID, from key: ChannelKey, in state: inout State) -> Departure? {
        guard state.channels[key]?.members.removeValue(forKey: user) != nil, let channelState = state.channels[key] else { return nil }
        record(.leave, user, in: key.appID, channel: key.channel)
        let remainingCount = channelState.members.count
        if remainingCount == 0 && !channelState.countFlushScheduled { state.channels.removeValue(forKey: key) }
        if remainingCount == 0 { scheduleAttributeDrop(key, in: &state) }
        let announce = remainingCount + 1 <= limits.memberEventThreshold
        return Departure(channel: key, user: user, toAnnounce: announce ? Array(channelState.members.values) : [],
                         remainingCount: remainingCount)
    }

    /// Sends `member_left` for each departure and schedules the member count updates.
    func announce(_ departures: [Departure]) {
        for departure in departures {
            if !departure.toAnnounce.isEmpty {
                let body = encoder.encodeBody(.memberLeft(channel: departure.channel.channel, user: departure.user))
                for member in departure.toAnnounce { _ = member.sink.enqueueEvent(body, kind: .other) }
            }
            if departure.remainingCount > 0 { scheduleMemberCount(departure.channel) }
        }
    }

    /// Broadcasts the channel's member count to its members no more often than the pace allows:
    /// at once if the last broadcast is old enough, otherwise once the interval has passed.
    func scheduleMemberCount(_ key: ChannelKey, skippingImmediate skipped: UserID? = nil) {
        let delay = state.withLock { state -> Int64? in
            guard var channelState = state.channels[key], !channelState.countFlushScheduled else { return nil }
            channelState.countFlushScheduled = true
            state.channels[key] = channelState
            let interval = channelState.members.count > limits.memberEventThreshold
                ? limits.largeChannelMemberCountInterval : limits.memberCountInterval
            let intervalMS = interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000
            let elapsed = channelState.lastCountSentAt == .min ? Int64.max : clock.nowMilliseconds() - channelState.lastCountSentAt
            return elapsed >= intervalMS ? 0 : intervalMS - elapsed
        }
        guard let delay else { return }
        if delay == 0 {
            flushMemberCount(key, skipping: skipped)
        } else {
            let deadline = clock.nowMilliseconds() + delay
            Task { [clock] in
                try? await clock.sleep(untilMilliseconds: deadline)
                self.flushMemberCount(key)
            }
        }
    }

    private func flushMemberCount(_ key: ChannelKey, skipping skipped: UserID? = nil) {
        let now = clock.nowMilliseconds()
        let members = state.withLock { state -> [RouterSession] in
            guard var channelState = state.channels[key] else { return [] }
            channelState.countFlushScheduled = false
            if channelState.members.isEmpty {
                state.channels.removeValue(forKey: key)
                return []
            }
            channelState.lastCountSentAt = now
            state.channels[key] = channelState
            return Array(channelState.members.values)
        }
        guard !members.isEmpty else { return }
        let body = encoder.encodeBody(.memberCount(channel: key.channel, count: members.count))
        for member in members where member.userID != skipped { _ = member.sink.enqueueEvent(body, kind: .other) }
    }
}
