/// This rank's share of every iteration's global batch, in the loader's deterministic order,
/// written straight into the network's input. Keeps the current epoch's visiting order.
public struct ShardedBatches {
    public let loader: BatchLoader
    public let rank: Int
    public let worldSize: Int
    private var order: [Int32] = []
    private var orderEpoch = -1

    public init(loader: BatchLoader, rank: Int, worldSize: Int) {
        self.loader = loader
        self.rank = rank
        self.worldSize = worldSize
    }

    public var batchesPerEpoch: Int { loader.batchesPerEpoch }

    /// Fills `network`'s input with this rank's images and labels of `iteration`. Returns how
    /// many this rank has and how many the whole global batch has (the last of an epoch may be short).
    public mutating func load(iteration: Int, into network: Network) -> (local: Int, global: Int) {
        let epoch = iteration / loader.batchesPerEpoch
        if epoch != orderEpoch {
            order = loader.permutation(epoch: epoch)
            orderEpoch = epoch
        }
        let (global, local) = loader.shard(batch: iteration % loader.batchesPerEpoch, rank: rank, worldSize: worldSize)
        let n = loader.fill(
            epoch: epoch, order: order, positions: local,
            images: network.inputImages, labels: network.inputLabels)
        return (n, global.count)
    }
}
