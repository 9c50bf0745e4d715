import Foundation
import RTMClient
import RTMProtocol
import RTMTestSupport
import Synchronization
import Testing

/// A rolling restart (issue 12, item 4): three `rtm serve` processes on one throwaway PostgreSQL;
/// each node in turn gets SIGTERM, exits, and starts again on its port, while a backend sends peer
/// messages (`wait_for_ack=true`) through REST spread over the nodes and SDK clients (each with
/// the three nodes as its server list, starting on different ones) receive them.
@Suite struct ClusterRollingRestartTests {
    /// What one SDK client saw, recorded as it happened.
    final class Observed: Sendable {
        let states = Mutex<[ConnectionStateChange]>([])
        let texts = Mutex<Set<String>>([])
        let restorations = Mutex(0)
        let membersLeft = Mutex<[String]>([])
    }

    /// One REST send and its answer (`status` 0: no node answered).
    struct Outcome: Sendable {
        var text: String
        var user: Int
        var status: Int
        var code: String?
        /// The node that answered (from 0), and when (seconds since the traffic started).
        var node = -1
        var second = 0.0
    }

    /// The backend's sends so far, and whether it should stop.
    final class Backend: Sendable {
        let outcomes = Mutex<[Outcome]>([])
        let stopping = Atomic(false)
    }

    static let userCount = 6

    @Test func sigtermOneNodeAtATimeUnderTrafficLosesNoAcknowledgedMessage() async throws {
        let cluster = try await ProcessCluster(nodes: 3, ackTimeout: 10)
        defer { cluster.stop() }
        let ports = cluster.ports
        var clients: [RTMClient] = []
        var observed: [Observed] = []
        var recorders: [Task<Void, Never>] = []
        for index in 0..<Self.userCount {
            let client = RTMClient(serverURLs: (0..<3).map { cluster.wsURL((index + $0) % 3) }, appID: ProcessCluster.appID)
            let seen = Observed()
            let room = client.channel("room")
            recorders.append(Task { for await change in client.connectionStates { seen.states.withLock { $0.append(change) } } })
            recorders.append(Task { for await message in client.peerMessages { if let text = message.text { seen.texts.withLock { _ = $0.insert(text) } } } })
            recorders.append(Task { for await _ in client.sessionRestorations { seen.restorations.withLock { $0 += 1 } } })
            recorders.append(Task {
                for await event in room.events { if case .memberLeft(let user) = event { seen.membersLeft.withLock { $0.append(user) } } }
            })
            try await client.login(userID: "user\(index)", token: nil)
            try await room.join()
            clients.append(client)
            observed.append(seen)
        }
        defer { for recorder in recorders { recorder.cancel() } }
        let everyone = (0..<Self.userCount).map { "user\($0)" }
        #expect(await waitUntil { (try? await clients[0].channel("room").members().sorted()) == everyone }, "every member seen")

        // The backend: a send every 20 ms (at most 2,000), each to the next user through the next node;
        // a node that does not answer is skipped for the next, as a load balancer would.
        let backend = Backend()
        let started = ContinuousClock.now
        let traffic = Task {
            await withTaskGroup(of: Void.self) { group in
                for number in 0..<2_000 where !backend.stopping.load(ordering: .relaxed) {
                    group.addTask {
                        let user = number % Self.userCount, text = "m\(number)"
                        var outcome = Outcome(text: text, user: user, status: 0)
                        for attempt in 0..<3 {
                            let port = ports[(number + attempt) % 3]
                            if let answer = try? await ProcessCluster.peer(port: port, to: "user\(user)", payload: text, query: "?wait_for_ack=true",
                                                                               offline: true) {
                                outcome.status = answer.status
                                outcome.code = answer.code
                                outcome.node = (number + attempt) % 3
                                outcome.second = (ContinuousClock.now - started) / .seconds(1)
                                break
                            }
                        }
                        backend.outcomes.withLock { $0.append(outcome) }
                    }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
        }

        for index in 0..<3 {
            try await Task.sleep(for: .seconds(1))
            kill(cluster.nodes[index].pid, SIGTERM)
            let status = await cluster.nodes[index].exitStatus(rounds: 6)   // its drain and flush, on a loaded machine
            #expect(status == 0, "node-\(index + 1) exits cleanly on SIGTERM: \(String(describing: status))")
            try await cluster.restart(index)
            // Ready for the balancer, then back in the cluster: a send through it reaches a client held
            // elsewhere and is acked.
            #expect(await waitUntil { (try? await cluster.ready(index)) == true }, "node-\(index + 1) says ready")
            let ready = await waitUntil {
                (try? await cluster.peer(through: index, to: "user\((index + 1) % Self.userCount)", payload: "ready\(index)",
                                         query: "?wait_for_ack=true").code) == "message_delivered"
            }
            #expect(ready, "node-\(index + 1) is back in the cluster")
        }
        try await Task.sleep(for: .seconds(1))
        backend.stopping.store(true, ordering: .relaxed)
        await traffic.value

        let answered = backend.outcomes.withLock { $0 }
        let delivered = answered.filter { $0.code == "message_delivered" }
        let offline = answered.filter { $0.code == "message_offline" }
        let others = answered.filter { $0.code != "message_delivered" && $0.code != "message_offline" }
        print("rolling restart: \(answered.count) sends, \(delivered.count) delivered, \(offline.count) offline, others:",
              Dictionary(grouping: others, by: { "\($0.status) \($0.code ?? "-")" }).mapValues(\.count))
        #expect(delivered.count > answered.count / 2, "traffic flowed")
        // Nothing acknowledged is lost: every message the backend was told reached its user, or was
        // stored for it (`enable_offline_messaging`), is in that user's client. (A node stopping, or
        // just started and not yet told who is where, may answer `message_offline` for a user who is
        // online elsewhere: the message is stored and the node holding the user delivers it.)
        for outcome in delivered + offline {
            let arrived = await waitUntil { observed[outcome.user].texts.withLock { $0.contains(outcome.text) } }
            #expect(arrived, "\(outcome) reached its user")
            if !arrived { break }
        }
        for (index, seen) in observed.enumerated() {
            let states = seen.states.withLock { $0 }
            #expect(states.contains(ConnectionStateChange(state: .reconnecting, reason: .interrupted)), "user\(index) saw 4/5: \(states)")
            #expect(!states.contains { $0.state == .aborted }, "user\(index) was never aborted: \(states)")
            #expect(await clients[index].connectionState == .connected, "user\(index) is connected")
            #expect(seen.restorations.withLock { $0 } == 0, "user\(index) resumed its session (no fresh login)")
            #expect(seen.membersLeft.withLock { $0 }.isEmpty, "user\(index) saw nobody leave")
        }
        #expect((try? await clients[0].channel("room").members().sorted()) == everyone, "everyone still in the channel")
        for client in clients { await client.logout() }
    }
}
