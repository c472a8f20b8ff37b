import Distributed
import Kernels

/// The training step, and the only way one runs: `train`, `bench`, the allocation check and the
/// tests all call it, so what is measured and tested is what trains. On every rank:
///
///     this rank's shard of the batch (already in network.inputImages / inputLabels)
///       -> forward -> loss -> backward
///       -> all-reduce of the gradients (1 MiB buckets that start while backward runs)
///       -> SGD update -> batch-norm running statistics averaged over ranks
///
/// The loss is the mean over the global batch, so the summed per-rank gradients are the
/// gradient of one process training on the whole batch.
public final class DataParallelStep {
    public let network: Network
    public let communicator: Communicator
    public let optimizer: SGD
    /// Batch-norm statistics over the global batch (all-reduced inside every BN layer) instead of
    /// each rank's shard.
    public let syncBatchNorm: Bool
    private let replicas: ReplicaConnection?
    private var totals = [Double](repeating: 0, count: 3)
    /// How long the last step's phases took.
    public private(set) var timing = StepTiming()

    public init(network: Network, communicator: Communicator, optimizer: SGD, syncBatchNorm: Bool) {
        self.network = network
        self.communicator = communicator
        self.optimizer = optimizer
        self.syncBatchNorm = syncBatchNorm
        if communicator.size > 1 {
            let link = ReplicaConnection(
                communicator: communicator, store: network.store,
                synchronizesStatistics: syncBatchNorm)
            network.replicas = link
            replicas = link
        } else {
            replicas = nil
        }
    }

    /// Runs one step on the first `images` images of the network's input: this rank's shard of
    /// a global batch of `globalImages` (a rank may have none in a short last batch). Returns
    /// the loss and correct count summed over all ranks.
    public func run(images: Int, globalImages: Int, learningRate: Double) throws -> StepStats {
        let start = monotonicSeconds()
        replicas?.buckets.begin()
        var local = (lossSum: 0.0, correct: 0)
        if images > 0 {
            local = try network.trainStep(batch: images, gradScale: 1 / Float(globalImages))
        } else {
            network.store.gradients.update(repeating: 0, count: network.parameterCount)
        }
        let computed = monotonicSeconds()
        try network.profile.measure(.allReduce) { try replicas?.buckets.finish() }
        totals[0] = local.lossSum
        totals[1] = Double(local.correct)
        totals[2] = Double(images)
        try totals.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        let reduced = monotonicSeconds()
        network.profile.measure(.optimizer) { optimizer.step(network.store, learningRate: Float(learningRate)) }
        try averageBatchNormStatistics()
        timing = StepTiming(
            compute: computed - start, reduction: reduced - computed, update: monotonicSeconds() - reduced)
        return StepStats(lossSum: totals[0], correct: totals[1], images: totals[2])
    }

    /// Per-rank batch norm leaves each rank with running statistics of its own shards: average
    /// them over ranks after every step (the same bits everywhere), so that replicas stay identical
    /// and the running mean is that of the global batch. With sync BN they already agree.
    private func averageBatchNormStatistics() throws {
        guard communicator.size > 1, !syncBatchNorm else { return }
        let statistics = network.store.runningStatistics
        try communicator.allReduceSum(statistics)
        let scale = 1 / Float(communicator.size)
        for i in statistics.indices { statistics[i] *= scale }
    }
}

/// The phases of one step, seconds.
public struct StepTiming: Sendable {
    /// Forward, loss and backward (bucket reductions start inside it).
    public var compute = 0.0
    /// Waiting for the gradient reductions still in flight after backward, and the loss sums.
    public var reduction = 0.0
    /// The optimizer and the batch-norm statistics.
    public var update = 0.0
    public var total: Double { compute + reduction + update }
}

/// This replica's link to the others: gradient buckets and, with synchronised batch norm, the
/// statistics all-reduce.
final class ReplicaConnection: ReplicaLink {
    let communicator: Communicator
    let buckets: GradientBuckets
    let synchronizesStatistics: Bool

    init(communicator: Communicator, store: ParameterStore, synchronizesStatistics: Bool) {
        self.communicator = communicator
        buckets = GradientBuckets(communicator: communicator, store: store)
        self.synchronizesStatistics = synchronizesStatistics
    }

    func gradientsReady(from offset: Int) throws { try buckets.ready(from: offset) }

    func sumOverReplicas(_ statistics: UnsafeMutableBufferPointer<Double>) throws {
        try communicator.allReduceSum(statistics)
    }
}
