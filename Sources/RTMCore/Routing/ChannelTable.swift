/// A member leaving a channel, to be announced outside the locks.
struct Departure: Sendable {
    var channel: ChannelKey
    var user: UserID
    /// The members left to tell `member_left`: all of them in a small channel, none past the threshold.
    var toAnnounce: [RouterSession]
    var remainingCount: Int
}

/// Who is in which channel on this node, and the pace of each channel's `member_count`: the
/// channels-and-fan-out concern of the ``Router``, as a value (behind its own lock, second in the
/// router's lock order).
struct ChannelTable {
    struct ChannelState {
        var members: [UserID: RouterSession] = [:]
        var lastCountSentAt: Int64 = .min
        var countFlushScheduled = false
    }

    private(set) var channels: [ChannelKey: ChannelState] = [:]
    private(set) var joined: [SessionKey: Set<ChannelName>] = [:]

    /// What a join changed: the outcome, the members to tell `member_joined` (none past the threshold).
    struct Joined {
        var outcome: JoinOutcome
        var toAnnounce: [RouterSession] = []
    }

    /// Adds `session` to `channel` (the caller checked it is current). `membersElsewhere`: the
    /// channel's members on other nodes of a cluster, which count toward the event threshold.
    mutating func join(_ session: RouterSession, _ channel: ChannelName, limits: RouterLimits, membersElsewhere: Int) -> Joined {
        let key = ChannelKey(appID: session.appID, channel: channel)
        var channels = joined[session.key] ?? []
        if channels.contains(channel) { return Joined(outcome: .alreadyJoined) }
        if channels.count >= limits.maximumJoinedChannels { return Joined(outcome: .exceedLimit) }
        channels.insert(channel)
        joined[session.key] = channels
        // Mutated in place (copying the channel out and back would copy its member table on every join).
        self.channels[key, default: ChannelState()].members[session.userID] = session
        let members = self.channels[key]?.members ?? [:]
        let announce = members.count + membersElsewhere <= limits.memberEventThreshold
        return Joined(outcome: .joined(memberCount: members.count),
                      toAnnounce: announce ? members.values.filter { $0 !== session } : [])
    }

    /// Removes `user` from `channel`; `nil` if it was not in it.
    mutating func leave(_ session: SessionKey, _ channel: ChannelName, limits: RouterLimits, membersElsewhere: Int) -> Departure? {
        guard joined[session]?.remove(channel) != nil else { return nil }
        return removeMember(session.userID, from: ChannelKey(appID: session.appID, channel: channel), limits: limits,
                            membersElsewhere: membersElsewhere)
    }

    /// Removes the session from every channel it is in (`membersElsewhere`: each channel's members on other nodes).
    mutating func leaveAll(_ session: SessionKey, limits: RouterLimits, membersElsewhere: (ChannelKey) -> Int) -> [Departure] {
        let channels = joined.removeValue(forKey: session) ?? []
        return channels.compactMap {
            let key = ChannelKey(appID: session.appID, channel: $0)
            return removeMember(session.userID, from: key, limits: limits, membersElsewhere: membersElsewhere(key))
        }
    }

    /// Starts tracking a current session's channels (none yet).
    mutating func sessionStarted(_ session: SessionKey) {
        joined[session] = []
    }

    func channels(of session: SessionKey) -> Set<ChannelName> { joined[session] ?? [] }

    func isEmpty(_ key: ChannelKey) -> Bool { channels[key]?.members.isEmpty ?? true }

    func members(of key: ChannelKey) -> [UserID: RouterSession] { channels[key]?.members ?? [:] }

    func memberCount(of key: ChannelKey) -> Int { channels[key]?.members.count ?? 0 }

    /// The members of `key` but `sender`, for a fan-out.
    func receivers(of key: ChannelKey, except sender: UserID) -> [RouterSession] {
        guard let members = channels[key]?.members else { return [] }
        var list: [RouterSession] = []
        list.reserveCapacity(members.count)
        for (user, session) in members where user != sender { list.append(session) }
        return list
    }

    // MARK: Member count pacing

    /// Marks a count broadcast as scheduled; how long until it may go out (0: now), or `nil` if one
    /// is scheduled already or the channel is gone.
    mutating func scheduleCount(_ key: ChannelKey, now: Int64, limits: RouterLimits, membersElsewhere: Int) -> Int64? {
        guard var state = channels[key], !state.countFlushScheduled else { return nil }
        state.countFlushScheduled = true
        channels[key] = state
        let interval = (state.members.count + membersElsewhere > limits.memberEventThreshold
            ? limits.largeChannelMemberCountInterval : limits.memberCountInterval).milliseconds
        let elapsed = state.lastCountSentAt == .min ? Int64.max : now - state.lastCountSentAt
        return elapsed >= interval ? 0 : interval - elapsed
    }

    /// The scheduled count goes out now: the members to send it to (none if the channel emptied, and
    /// it is then forgotten).
    mutating func flushCount(_ key: ChannelKey, now: Int64) -> [RouterSession] {
        guard var state = channels[key] else { return [] }
        state.countFlushScheduled = false
        if state.members.isEmpty {
            channels.removeValue(forKey: key)
            return []
        }
        state.lastCountSentAt = now
        channels[key] = state
        return Array(state.members.values)
    }

    private mutating func removeMember(_ user: UserID, from key: ChannelKey, limits: RouterLimits, membersElsewhere: Int) -> Departure? {
        guard channels[key]?.members.removeValue(forKey: user) != nil, let state = channels[key] else { return nil }
        let remainingCount = state.members.count
        if remainingCount == 0 && !state.countFlushScheduled { channels.removeValue(forKey: key) }
        let announce = remainingCount + membersElsewhere + 1 <= limits.memberEventThreshold
        return Departure(channel: key, user: user, toAnnounce: announce ? Array(state.members.values) : [],
                         remainingCount: remainingCount)
    }
}
