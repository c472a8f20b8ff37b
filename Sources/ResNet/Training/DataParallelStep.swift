import Distributed
import Kernels

/// The training step, and the only way one runs: `train`, `bench`, the allocation check and the
/// tests all call it, so what is measured and tested is what trains. On every rank:
///
///     this rank's shard of the batch (already in network.inputImages / inputLabels; maybe none)
///       -> forward -> loss -> backward
///       -> all-reduce of the gradients (the plan's buckets, started while backward runs)
///       -> SGD update -> batch-norm running statistics averaged over ranks, weighted by images
///
/// The loss is the mean over the global batch, so the summed per-rank gradients are the
/// gradient of one process training on the whole batch. A rank whose shard is empty runs the same
/// step on 0 images: it issues the same collectives, in the same order, as every other rank.
public final class DataParallelStep {
    public let network: Network
    public let communicator: Communicator
    public let optimizer: SGD
    /// Batch-norm statistics over the global batch (all-reduced inside every BN layer) instead of
    /// each rank's shard.
    public let syncBatchNorm: Bool
    /// The loss's label smoothing ε (`SoftmaxCrossEntropy`; 0: one-hot targets).
    public let labelSmoothing: Float
    /// The gradient buckets, fixed here once from the parameter layout.
    public let bucketPlan: GradientBucketPlan
    private let replicas: ReplicaConnection?
    private var totals = [Double](repeating: 0, count: 4)
    /// How long the last step's phases took.
    public private(set) var timing = StepTiming()

    /// `bucketMiB`: the least a gradient bucket holds (`--bucket-mb`); `bfloat16`: the buckets
    /// travel in 16 bits (`--allreduce-precision bf16`); `labelSmoothing`: `--label-smoothing`.
    public init(
        network: Network, communicator: Communicator, optimizer: SGD, syncBatchNorm: Bool,
        bucketMiB: Double = GradientBucketPlan.defaultMiB, bfloat16: Bool = false, labelSmoothing: Float = 0
    ) {
        self.network = network
        self.communicator = communicator
        self.optimizer = optimizer
        self.syncBatchNorm = syncBatchNorm
        self.labelSmoothing = labelSmoothing
        bucketPlan = GradientBucketPlan(parameters: network.store.parameters, bucketMiB: bucketMiB)
        replicas =
            communicator.size > 1
            ? ReplicaConnection(
                communicator: communicator,
                buckets: GradientBuckets(
                    communicator: communicator, store: network.store, plan: bucketPlan, bfloat16: bfloat16),
                synchronizesStatistics: syncBatchNorm)
            : nil
    }

    /// Runs one step on the first `images` images of the network's input: this rank's shard of
    /// a global batch of `globalImages` (a rank may have none in a short last batch). Returns
    /// the loss and correct count summed over all ranks.
    public func run(images: Int, globalImages: Int, learningRate: Double) throws -> StepStats {
        precondition(globalImages >= 1 && images <= globalImages)
        let start = monotonicSeconds()
        replicas?.buckets.begin()
        let local = try network.trainStep(
            batch: images, gradScale: 1 / Float(globalImages), labelSmoothing: labelSmoothing, replicas: replicas)
        let computed = monotonicSeconds()
        try network.profile.measure(.allReduce) { try replicas?.buckets.finish() }
        let global = try StepStats(lossSum: local.lossSum, correct: Double(local.correct), images: Double(images))
            .summed(over: communicator, scratch: &totals)
        let reduced = monotonicSeconds()
        network.profile.measure(.optimizer) {
            optimizer.step(network.store, learningRate: Float(learningRate), threads: network.threads)
        }
        try averageBatchNormStatistics(images: images, globalImages: globalImages)
        timing = StepTiming(
            compute: computed - start, reduction: reduced - computed, update: monotonicSeconds() - reduced)
        return global
    }

    /// Per-rank batch norm leaves each rank with running statistics of its own shard: average them
    /// over ranks after every step, each rank weighted by the images it saw (the same bits
    /// everywhere), so that replicas stay identical and the running statistics move as those of the
    /// global batch would. A rank that saw nothing kept its old statistics and weighs 0. With sync
    /// BN they already agree.
    private func averageBatchNormStatistics(images: Int, globalImages: Int) throws {
        guard communicator.size > 1, !syncBatchNorm else { return }
        let statistics = network.store.runningStatistics
        let weight = Float(images) / Float(globalImages)
        for i in statistics.indices { statistics[i] *= weight }
        try communicator.allReduceSum(statistics)
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

/// This replica's link to the others for `Network.trainStep`: gradient buckets and, with
/// synchronised batch norm, the statistics all-reduce.
final class ReplicaConnection: ReplicaLink {
    let communicator: Communicator
    let buckets: GradientBuckets
    let synchronizesStatistics: Bool

    init(communicator: Communicator, buckets: GradientBuckets, synchronizesStatistics: Bool) {
        self.communicator = communicator
        self.buckets = buckets
        self.synchronizesStatistics = synchronizesStatistics
    }

    func gradientsReady(from offset: Int) throws { try buckets.ready(from: offset) }

    func sumOverReplicas(_ statistics: UnsafeMutableBufferPointer<Double>) throws {
        try communicator.allReduceSum(statistics)
    }
}
