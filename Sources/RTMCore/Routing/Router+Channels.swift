import NIOCore

/// Channels and fan-out: joining, leaving, member lists and counts, channel messages.
extension Router {
    // MARK: Joining and leaving

    /// Adds `session` to `channel`; other members get `member_joined` (up to the event threshold)
    /// and a paced `member_count`. `beforeAnnouncing` runs once the join is recorded and before any
    /// event about it is queued, so the caller can queue its reply (and the joiner's own count) first.
    package func join(_ session: RouterSession, channel: ChannelName, beforeAnnouncing: (JoinOutcome) -> Void) -> JoinOutcome {
        join(session, channel: channel, announcing: true, beforeAnnouncing: beforeAnnouncing)
    }

    /// ``join(_:channel:beforeAnnouncing:)``; without `announcing`, members are not told (a session
    /// a stopping node handed over comes back into channels where members still see it).
    package func join(_ session: RouterSession, channel: ChannelName, announcing: Bool,
                      beforeAnnouncing: (JoinOutcome) -> Void) -> JoinOutcome {
        let key = ChannelKey(appID: session.appID, channel: channel)
        let joined = sessionTable.withLock { sessions -> ChannelTable.Joined in
            guard sessions.isCurrent(session) else { return ChannelTable.Joined(outcome: .notLoggedIn) }
            return channelTable.withLock { channels -> ChannelTable.Joined in
                var joined = channels.join(session, channel, limits: limits, membersElsewhere: membersElsewhere(of: key))
                if case .joined(let localCount) = joined.outcome {
                    attributeTable.withLock { $0.channelGainedMember(key) }   // a pending drop of its attributes is void now
                    record(.join, session.userID, in: session.appID, channel: channel)
                    if let cluster {
                        cluster.changed(.join(session.appID, channel, session.userID))
                        joined.outcome = .joined(memberCount: localCount + cluster.memberCountElsewhere(of: channel, in: session.appID))
                    }
                }
                return joined
            }
        }
        beforeAnnouncing(joined.outcome)
        if case .joined = joined.outcome {
            if announcing, !joined.toAnnounce.isEmpty {
                let body = encoder.encodeBody(.memberJoined(channel: channel, user: session.userID))
                for member in joined.toAnnounce { _ = member.sink.enqueueEvent(body, kind: .other) }
            }
            scheduleMemberCount(key, skippingImmediate: session.userID)
        }
        return joined.outcome
    }

    /// The members other nodes of a cluster hold in `key` (they count toward the member-event threshold).
    func membersElsewhere(of key: ChannelKey) -> Int {
        cluster?.memberCountElsewhere(of: key.channel, in: key.appID) ?? 0
    }

    /// Removes `session` from `channel`; remaining members get `member_left`.
    package func leave(_ session: RouterSession, channel: ChannelName) -> LeaveOutcome {
        let key = ChannelKey(appID: session.appID, channel: channel)
        let (outcome, departure) = sessionTable.withLock { sessions -> (LeaveOutcome, Departure?) in
            guard sessions.isCurrent(session) else { return (.notLoggedIn, nil) }
            return channelTable.withLock { channels -> (LeaveOutcome, Departure?) in
                guard let departure = channels.leave(session.key, channel, limits: limits, membersElsewhere: membersElsewhere(of: key))
                else { return (.notInChannel, nil) }
                attributeTable.withLock { departed(departure, &$0) }
                return (.left, departure)
            }
        }
        announce(departure.map { [$0] } ?? [])
        return outcome
    }

    /// The channels `session` is in.
    package func joinedChannels(of session: RouterSession) -> Set<ChannelName> {
        sessionTable.withLock { sessions in
            sessions.isCurrent(session) ? channelTable.withLock { $0.channels(of: session.key) } : []
        }
    }

    /// Up to `limit` members of `channel`, or `nil` if `session` is not in it.
    package func members(of channel: ChannelName, for session: RouterSession, limit: Int) -> [UserID]? {
        sessionTable.withLock { sessions -> [UserID]? in
            guard sessions.isCurrent(session) else { return nil }
            return channelTable.withLock { channels -> [UserID]? in
                guard channels.channels(of: session.key).contains(channel) else { return nil }
                var members = Array(channels.members(of: ChannelKey(appID: session.appID, channel: channel)).keys)
                if let cluster {
                    let local = Set(members)
                    members += cluster.membersElsewhere(of: channel, in: session.appID).filter { !local.contains($0) }
                }
                return Array(members.shuffled().prefix(limit))
            }
        }
    }

    /// Member counts for `channels` of `app` (0 for a channel nobody is in).
    package func memberCounts(of channels: [ChannelName], in app: AppID) -> [ChannelName: Int] {
        channelTable.withLock { table in
            var counts: [ChannelName: Int] = [:]
            for channel in channels {
                counts[channel] = table.memberCount(of: ChannelKey(appID: app, channel: channel))
                    + (cluster?.memberCountElsewhere(of: channel, in: app) ?? 0)
            }
            return counts
        }
    }

    // MARK: Channel messages

    /// Sends a channel message to every member of `channel` except `from`, stamped `serverTimestamp`
    /// (by default, now).
    /// - Returns: the message id, server time and how many connections accepted it.
    package func sendChannel(app: AppID, channel: ChannelName, from: UserID, content: MessageContent, serverTimestamp: Int64?)
        -> (messageID: String, serverTimestamp: Int64, receivers: Int)
    {
        let messageID = messageIDs.next()
        let now = serverTimestamp ?? clock.nowMilliseconds()
        let receivers = channelTable.withLock { $0.receivers(of: ChannelKey(appID: app, channel: channel), except: from) }
        guard !receivers.isEmpty else { return (messageID, now, 0) }
        let body = encoder.encodeBody(.channelMessage(channel: channel, from: from, messageID: messageID,
                                                      content: content, serverTimestamp: now))
        var accepted = 0
        let kind = EventKind.channelMessage(channel, serverTimestamp: now)
        for receiver in receivers where receiver.sink.enqueueEvent(body, kind: kind) { accepted += 1 }
        metrics.channelDelivered.increment(by: Int64(accepted))
        return (messageID, now, accepted)
    }

    // MARK: Departures and member counts

    /// Records a member's departure (the attributes lock held, and the channels one): the event feed,
    /// and the drop of the attributes of a channel it left empty.
    func departed(_ departure: Departure, _ attributes: inout AttributeTable) {
        record(.leave, departure.user, in: departure.channel.appID, channel: departure.channel.channel)
        cluster?.changed(.leave(departure.channel.appID, departure.channel.channel, departure.user))
        if departure.remainingCount == 0 { scheduleAttributeDrop(departure.channel, attributes) }
    }

    /// Sends `member_left` for each departure and schedules the member count updates.
    func announce(_ departures: [Departure]) {
        guard endingAll.load(ordering: .sequentiallyConsistent) == 0 else { return }
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
        let now = clock.nowMilliseconds()
        let elsewhere = membersElsewhere(of: key)
        guard let delay = channelTable.withLock({ $0.scheduleCount(key, now: now, limits: limits, membersElsewhere: elsewhere) }) else { return }
        if delay == 0 {
            flushMemberCount(key, skipping: skipped)
        } else {
            let deadline = now + delay
            Task { [clock] in
                try? await clock.sleep(untilMilliseconds: deadline)
                self.flushMemberCount(key)
            }
        }
    }

    private func flushMemberCount(_ key: ChannelKey, skipping skipped: UserID? = nil) {
        let now = clock.nowMilliseconds()
        let members = channelTable.withLock { $0.flushCount(key, now: now) }
        guard !members.isEmpty else { return }
        let count = members.count + (cluster?.memberCountElsewhere(of: key.channel, in: key.appID) ?? 0)
        let body = encoder.encodeBody(.memberCount(channel: key.channel, count: count))
        for member in members where member.userID != skipped { _ = member.sink.enqueueEvent(body, kind: .other) }
    }
}
