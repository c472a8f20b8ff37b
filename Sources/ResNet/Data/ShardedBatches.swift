import Foundation

/// This rank's share of every iteration's global batch, in the source's deterministic order,
/// written into the network's input: filled in place, or, with decode threads, prepared ahead while
/// the step runs (`BatchPrefetcher`) and copied in. Keeps the current epoch's visiting order.
public struct ShardedBatches {
    public let source: any BatchSource
    public let rank: Int
    public let worldSize: Int
    private var order: [Int32] = []
    private var orderEpoch = -1
    private let prefetcher: BatchPrefetcher?
    /// Seconds the step has waited for its input (filling it in place, or waiting for the decode
    /// threads and copying): what the input pipeline costs the step.
    public private(set) var inputSeconds = 0.0

    /// `decodeThreads` > 0 prepares the next batches on that many threads; `capacity` is the most
    /// images a shard holds.
    public init(source: any BatchSource, rank: Int, worldSize: Int, decodeThreads: Int = 0, capacity: Int = 0) {
        self.source = source
        self.rank = rank
        self.worldSize = worldSize
        prefetcher =
            decodeThreads > 0
            ? BatchPrefetcher(source: source, rank: rank, worldSize: worldSize, capacity: capacity, threads: decodeThreads)
            : nil
    }

    public var batchesPerEpoch: Int { source.batchesPerEpoch }

    /// Fills `network`'s input with this rank's images and labels of `iteration`. Returns how
    /// many this rank has and how many the whole global batch has (the last of an epoch may be short).
    public mutating func load(iteration: Int, into network: Network) throws -> (local: Int, global: Int) {
        try load(iteration: iteration, images: network.inputImages, labels: network.inputLabels)
    }

    /// `load` into any buffers of the largest shard's size (the input pipeline's bench).
    public mutating func load(
        iteration: Int, images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>
    ) throws -> (local: Int, global: Int) {
        let start = monotonicSeconds()
        defer { inputSeconds += monotonicSeconds() - start }
        if let prefetcher {
            return try prefetcher.take(iteration: iteration, images: images, labels: labels)
        }
        let epoch = iteration / source.batchesPerEpoch
        if epoch != orderEpoch {
            order = source.permutation(epoch: epoch)
            orderEpoch = epoch
        }
        let (global, local) = source.shard(batch: iteration % source.batchesPerEpoch, rank: rank, worldSize: worldSize)
        let n = try source.fill(epoch: epoch, order: order, positions: local, images: images, labels: labels)
        return (n, global.count)
    }
}
