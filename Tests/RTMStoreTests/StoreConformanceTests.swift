import Foundation
import RTMCore
import RTMTestSupport
import Testing

/// One conformance suite for every store implementation: in memory, SQLite and PostgreSQL.
@Suite struct StoreConformanceTests {
    static let appA = AppID("970CA35de60c44645bbae8a215061b33")!
    static let appB = AppID("0123456789abcdef0123456789abcdef")!
    static let alice = UserID("alice")!, bob = UserID("bob")!

    @Test(arguments: StoreBackend.allCases)
    func appsAndCredentials(_ backend: StoreBackend) async throws {
        try await backend.withStores { stores in
            #expect(try await stores.apps.allApps().isEmpty)
            try await stores.apps.upsertApp(AppRecord(appID: Self.appA, certificate: "5CFd2fd1755d40ecb72977518be15d3b"))
            try await stores.apps.upsertApp(AppRecord(appID: Self.appB, certificate: nil, messagingRateLimit: 5, historyRetentionDays: 3))
            try await stores.apps.upsertApp(AppRecord(appID: Self.appA, certificate: nil, messagingRateLimit: 9))
            #expect(try await stores.apps.app(Self.appA) == AppRecord(appID: Self.appA, certificate: nil, messagingRateLimit: 9))
            #expect(try await stores.apps.app(AppID("ffffffffffffffffffffffffffffffff")!) == nil)
            #expect(try await Set(stores.apps.allApps().map(\.appID)) == [Self.appA, Self.appB])
            try await stores.apps.upsertCredential(CustomerCredential(customerID: "c1", secretHash: "h1", apps: ["*"]))
            try await stores.apps.upsertCredential(CustomerCredential(customerID: "c2", secretHash: "h2", apps: [Self.appA.rawValue, Self.appB.rawValue]))
            try await stores.apps.upsertCredential(CustomerCredential(customerID: "c1", secretHash: "h1b", apps: [Self.appB.rawValue]))
            #expect(try await stores.apps.credential(customerID: "c1") == CustomerCredential(customerID: "c1", secretHash: "h1b", apps: [Self.appB.rawValue]))
            #expect(try await stores.apps.credential(customerID: "c2")?.apps == [Self.appA.rawValue, Self.appB.rawValue])
            #expect(try await stores.apps.credential(customerID: "nobody") == nil)
            #expect(try await stores.apps.allCredentials().count == 2)
        }
    }

    static func message(_ index: Int, to: UserID = bob, app: AppID = appA, at timestamp: Int64? = nil) -> StoredPeerMessage {
        StoredPeerMessage(messageID: "m\(index)", appID: app, from: alice, to: to,
                          content: index % 3 == 0 ? .raw(base64: "AQI=", description: index % 2 == 0 ? "d" : nil) : .text("text \(index) é"),
                          serverTimestamp: timestamp ?? Int64(1_000 + index))
    }

    @Test(arguments: StoreBackend.allCases)
    func offlineMessages(_ backend: StoreBackend) async throws {
        try await backend.withStores { stores in
            let store = stores.offline
            for index in 1...5 { try await store.store(Self.message(index), limit: 200) }
            try await store.store(Self.message(6, app: Self.appB), limit: 200)
            let pending = try await store.pending(for: Self.bob, in: Self.appA, notBefore: 0)
            #expect(pending == (1...5).map { Self.message($0) }, "send order, content kept exactly, other app excluded")
            #expect(try await store.pending(for: Self.bob, in: Self.appA, notBefore: 1_004).map(\.messageID) == ["m4", "m5"])
            try await store.delete(messageID: "m2", for: Self.bob, in: Self.appA)
            try await store.delete(messageID: "m2", for: Self.bob, in: Self.appB)   // no such message there: nothing happens
            #expect(try await store.pending(for: Self.bob, in: Self.appA, notBefore: 0).map(\.messageID) == ["m1", "m3", "m4", "m5"])
            // Newest evicts oldest past the limit.
            for index in 10..<30 { try await store.store(Self.message(index, to: Self.alice), limit: 5) }
            #expect(try await store.pending(for: Self.alice, in: Self.appA, notBefore: 0).map(\.messageID) == (25..<30).map { "m\($0)" })
            // Expiry removes what was received before the cutoff, in every app.
            #expect(try await store.deleteReceived(before: 1_004) == 2)
            #expect(try await store.pending(for: Self.bob, in: Self.appA, notBefore: 0).map(\.messageID) == ["m4", "m5"])
            #expect(try await store.pending(for: Self.bob, in: Self.appB, notBefore: 0).map(\.messageID) == ["m6"])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func history(_ backend: StoreBackend) async throws {
        try await backend.withStores { stores in
            let store = stores.history
            func record(_ source: String, _ destination: String, _ kind: HistoryRecord.Kind, _ timestamp: Int64, app: AppID = Self.appA) -> HistoryRecord {
                HistoryRecord(appID: app, source: source, destination: destination, kind: kind, payload: "\(source)>\(destination)@\(timestamp)",
                              timestamp: timestamp)
            }
            let records = [
                record("alice", "bob", .peerMessage, 100), record("alice", "lobby", .channelMessage, 200),
                record("carol", "bob", .peerMessage, 300), record("bob", "alice", .peerMessage, 400),
                record("alice", "bob", .peerMessage, 500), record("alice", "bob", .peerMessage, 500),
            ]
            for entry in records { try await store.append(entry) }
            try await store.append(record("alice", "bob", .peerMessage, 150, app: Self.appB))
            let all = HistoryFilter(source: "alice", destination: nil, start: 0, end: 1_000)
            #expect(try await store.query(all, in: Self.appA, ascending: true, offset: 0, limit: 20).map(\.timestamp) == [100, 200, 500, 500])
            #expect(try await store.query(all, in: Self.appA, ascending: false, offset: 1, limit: 2).map(\.timestamp) == [500, 200])
            #expect(try await store.count(all, in: Self.appA) == 4)
            let toBob = HistoryFilter(source: nil, destination: "bob", start: 0, end: 1_000)
            #expect(try await store.query(toBob, in: Self.appA, ascending: true, offset: 0, limit: 20).map(\.source) == ["alice", "carol", "alice", "alice"])
            let pair = HistoryFilter(source: "alice", destination: "bob", start: 100, end: 499)
            #expect(try await store.query(pair, in: Self.appA, ascending: true, offset: 0, limit: 20) == [records[0]], "times inclusive, fields exact")
            let channel = HistoryFilter(source: nil, destination: "lobby", start: 0, end: 1_000)
            #expect(try await store.query(channel, in: Self.appA, ascending: true, offset: 0, limit: 20).map(\.kind) == [.channelMessage])
            #expect(try await store.count(HistoryFilter(source: "lobby", destination: "bob", start: 0, end: 1_000), in: Self.appA) == 0)
            #expect(try await store.count(HistoryFilter(source: "alice", destination: nil, start: 0, end: 1_000), in: Self.appB) == 1)
            #expect(try await store.deleteRecords(of: Self.appA, before: 300) == 2)
            #expect(try await store.count(all, in: Self.appA) == 2)
            #expect(try await store.count(all, in: Self.appB) == 1, "retention is per app")
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func eventLog(_ backend: StoreBackend) async throws {
        try await backend.withStores { stores in
            let log = stores.events
            let logins = (0..<7).map { RTMEvent(appID: Self.appA, userID: "u\($0)", kind: $0 % 2 == 0 ? .login : .logout, timestamp: Int64($0)) }
            try await log.append(logins, capacity: 5)
            try await log.append([RTMEvent(appID: Self.appA, userID: "u1", kind: .join, channel: "c1", timestamp: 10),
                                  RTMEvent(appID: Self.appB, userID: "u9", kind: .login, timestamp: 11)], capacity: 5)
            #expect(try await log.drain(.user, of: Self.appA, limit: 3) == Array(logins[2..<5]), "oldest dropped past capacity")
            #expect(try await log.drain(.user, of: Self.appA, limit: 10) == Array(logins[5..<7]))
            #expect(try await log.drain(.user, of: Self.appA, limit: 10).isEmpty, "reads are destructive")
            #expect(try await log.drain(.channel, of: Self.appA, limit: 10)
                == [RTMEvent(appID: Self.appA, userID: "u1", kind: .join, channel: "c1", timestamp: 10)])
            #expect(try await log.drain(.user, of: Self.appB, limit: 10).map(\.userID) == ["u9"])
        }
    }

    /// A prepared history query is taken once, by its app only, and not once it expired; expired ones
    /// go as new ones are kept.
    @Test(arguments: StoreBackend.allCases)
    func historyHandlesAreSingleUseAndExpire(_ backend: StoreBackend) async throws {
        try await backend.withStores { stores in
            let handles = stores.historyHandles
            try await handles.keep(#"{"q":1,"é":"\u0000"}"#, handle: "h1", app: Self.appA, expiresAt: 2_000, now: 1_000)
            try await handles.keep("two", handle: "h2", app: Self.appA, expiresAt: 2_000, now: 1_000)
            #expect(try await handles.take(handle: "h1", app: Self.appB, now: 1_500) == nil, "another app's")
            #expect(try await handles.take(handle: "h1", app: Self.appA, now: 1_500) == #"{"q":1,"é":"\u0000"}"#)
            #expect(try await handles.take(handle: "h1", app: Self.appA, now: 1_500) == nil, "single use")
            #expect(try await handles.take(handle: "h2", app: Self.appA, now: 2_000) == nil, "expired")
            #expect(try await handles.take(handle: "nope", app: Self.appA, now: 1_000) == nil)
        }
    }

    /// Every sample comes back byte for byte: offline texts and raw descriptions, history payloads, and
    /// (in the event log) names made of every character a user id or channel name may hold.
    @Test(arguments: StoreBackend.allCases)
    func payloadFidelity(_ backend: StoreBackend) async throws {
        try await backend.withStores { stores in
            let samples = FidelitySamples.all
            for (index, sample) in samples.enumerated() {
                try await stores.offline.store(StoredPeerMessage(messageID: "t\(index)", appID: Self.appA, from: Self.alice, to: Self.bob,
                                                                 content: .text(sample), serverTimestamp: 1_000), limit: 200)
                try await stores.offline.store(StoredPeerMessage(messageID: "r\(index)", appID: Self.appA, from: Self.alice, to: Self.bob,
                                                                 content: .raw(base64: "AA==", description: sample), serverTimestamp: 1_000),
                                               limit: 200)
                try await stores.history.append(HistoryRecord(appID: Self.appA, source: "alice", destination: "bob", kind: .peerMessage,
                                                              payload: sample, timestamp: Int64(index)))
            }
            let pending = try await stores.offline.pending(for: Self.bob, in: Self.appA, notBefore: 0)
            let texts = pending.compactMap { if case .text(let text) = $0.content { text } else { nil } }
            let descriptions = pending.compactMap { if case .raw(_, let description) = $0.content { description } else { nil } }
            #expect(texts.map(FidelitySamples.bytes) == samples.map(FidelitySamples.bytes))
            #expect(descriptions.map(FidelitySamples.bytes) == samples.map(FidelitySamples.bytes))
            let filter = HistoryFilter(source: "alice", destination: "bob", start: 0, end: 1_000)
            let history = try await stores.history.query(filter, in: Self.appA, ascending: true, offset: 0, limit: 100)
            #expect(history.map { Array($0.payload.utf8) } == samples.map(FidelitySamples.bytes))

            let names = ["~!#$%&()+-:;<=.>?@[]^_{}|,' Az09", "a b"]
            let events = names.map { RTMEvent(appID: Self.appA, userID: $0, kind: .join, channel: $0 + "!", timestamp: 5) }
            try await stores.events.append(events, capacity: 10)
            let drained = try await stores.events.drain(.channel, of: Self.appA, limit: 10)
            #expect(drained.map { Array($0.userID.utf8) } == names.map { Array($0.utf8) })
            #expect(drained.map { $0.channel.map { Array($0.utf8) } } == names.map { Array(($0 + "!").utf8) })
        }
    }
}
