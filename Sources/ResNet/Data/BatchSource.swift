/// A data set cut into global batches, deterministically from the seed alone: epoch `e` visits
/// the images in one permutation drawn from (seed, e); global batch `b` is positions
/// `b*B ..< (b+1)*B` of it; rank `r` of `N` takes the r-th of N near-equal shards. What one
/// position becomes (crop, flip, scale, lighting) is a function of (seed, epoch, position), so the
/// data a step sees depends neither on the number of ranks nor on where a run was resumed.
/// CIFAR-10 in memory (`BatchLoader`) and image folders (`ImageFolderLoader`) are the two.
public protocol BatchSource: Sendable {
    /// Images in the data set.
    var count: Int { get }
    var globalBatch: Int { get }
    var seed: UInt64 { get }
    /// Network inputs written per image: 1, or 10 for ten-crop testing.
    var viewsPerImage: Int { get }
    /// Floats of one network input (`3 * side * side`).
    var inputFloats: Int { get }
    /// The classes' names in label order, where the data set has them (an image folder's folders).
    var classNames: [String]? { get }

    /// Writes images `positions` of `order` (epoch `epoch`) into `images` [n * views, 3, side, side],
    /// normalised, and their labels into `labels` (each repeated per view). Returns n.
    func fill(
        epoch: Int, order: [Int32], positions: Range<Int>,
        images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>
    ) throws -> Int

    /// The visiting order of `epoch` (default: a permutation drawn from (seed, epoch)).
    func permutation(epoch: Int) -> [Int32]
}

extension BatchSource {
    public var viewsPerImage: Int { 1 }
    public var classNames: [String]? { nil }

    /// Iterations per epoch: every image once, the last batch possibly smaller.
    public var batchesPerEpoch: Int { (count + globalBatch - 1) / globalBatch }

    /// A permutation drawn from (seed, epoch).
    public func permutation(epoch: Int) -> [Int32] {
        var order = (0..<Int32(count)).map { $0 }
        var rng = SplitMix64(seed: seed, stream: RandomStream.epochOrder.rawValue, UInt64(epoch))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        return order
    }

    /// Global positions of batch `index` within its epoch, and this rank's slice of them.
    public func shard(batch index: Int, rank: Int, worldSize: Int) -> (global: Range<Int>, local: Range<Int>) {
        let start = index * globalBatch
        let end = min(start + globalBatch, count)
        let local = BatchLoader.shard(of: end - start, rank: rank, worldSize: worldSize)
        return (start..<end, start + local.lowerBound..<start + local.upperBound)
    }
}
