import Kernels

/// The one way distribution reaches a model: what a replica's network tells the other replicas,
/// and asks of them, in the middle of a step. The data-parallel step implements it and hands it to
/// `Network.trainStep` for that one step; the network keeps no link to the replicas. It only
/// reports and asks, and every call may fail (a lost rank), which ends the step with an error.
public protocol ReplicaLink: StatisticsReducer {
    /// True when batch-norm statistics are summed over the replicas (synchronised batch norm).
    var synchronizesStatistics: Bool { get }
    /// Every parameter gradient at offset `offset` and above is final (parameters are stored in
    /// forward order and backward runs in reverse), so its reduction may start.
    func gradientsReady(from offset: Int) throws
}

extension ReplicaLink {
    /// This link when it sums batch-norm statistics over the replicas, else nil.
    var statisticsReducer: StatisticsReducer? { synchronizesStatistics ? self : nil }
}
