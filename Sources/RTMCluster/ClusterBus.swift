/// The bus between the nodes of a cluster: what one node publishes, every node (itself included)
/// receives, in one order that is the same on every node.
///
/// `PostgresBus` (RTMClusterPostgres) is the implementation: `NOTIFY` in commit order, one
/// listening connection per node.
package protocol ClusterBus: Sendable {
    /// This node's id: the origin of what it publishes.
    var nodeID: String { get }

    /// Publishes `bodies` in this order, in one step (one transaction): every node receives all of
    /// them or, if this throws, none.
    func publish(_ bodies: [String]) async throws

    /// What the bus delivers, in bus order. One consumer. ``BusDelivery/resync`` says events may have
    /// been lost (the listening connection dropped, or the consumer fell behind): rebuild what was
    /// learned from the bus from the shared tables.
    var deliveries: AsyncStream<BusDelivery> { get }
}

/// What the bus hands its consumer.
package enum BusDelivery: Equatable, Sendable {
    case event(BusEnvelope)
    /// The bus is listening (again) and may have missed events before this point.
    case resync
}
