/// Builds each rank's share of every global batch, deterministically from the seed alone:
/// epoch `e` visits the training set in one permutation drawn from (seed, e); global batch `b`
/// is positions `b*B ..< (b+1)*B` of it; rank `r` of `N` takes the r-th of N equal shards.
/// Every augmentation draw (crop offset, flip) is a function of (seed, epoch, position), so the
/// data a step sees does not depend on the number of ranks or on where a run was resumed.
public struct BatchLoader {
    public let data: LabeledImages
    public let globalBatch: Int
    public let seed: UInt64
    public let augment: Bool
    public let padding: Padding
    let scale: [Float], offset: [Float]

    /// What the 4-pixel border of the crop holds.
    public enum Padding: String, Sendable, CaseIterable {
        /// Black pixels, normalised like any other (torchvision's RandomCrop(32, padding=4) before
        /// Normalize; the default).
        case black
        /// Zeros after normalisation (the mean, where the per-pixel mean is subtracted).
        case zero
    }

    public init(
        data: LabeledImages, globalBatch: Int, seed: UInt64, augment: Bool, normalization: Normalization,
        padding: Padding = .black
    ) {
        self.data = data
        self.globalBatch = globalBatch
        self.seed = seed
        self.augment = augment
        self.padding = padding
        (scale, offset) = normalization.affine()
    }

    /// Iterations per epoch: every image once, the last batch possibly smaller.
    public var batchesPerEpoch: Int { (data.count + globalBatch - 1) / globalBatch }

    /// The visiting order of `epoch`.
    public func permutation(epoch: Int) -> [Int32] {
        var order = (0..<Int32(data.count)).map { $0 }
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
        let end = min(start + globalBatch, data.count)
        let local = Self.shard(of: end - start, rank: rank, worldSize: worldSize)
        return (start..<end, start + local.lowerBound..<start + local.upperBound)
    }

    /// Rank `rank`'s contiguous slice of `count` images spread over `worldSize` ranks: the first
    /// `count % worldSize` ranks hold ceil(count/N), the others floor(count/N) (0 when N > count).
    public static func shard(of count: Int, rank: Int, worldSize: Int) -> Range<Int> {
        let base = count / worldSize
        let extra = count % worldSize
        let lo = rank * base + min(rank, extra)
        return lo..<lo + base + (rank < extra ? 1 : 0)
    }

    /// Writes images `positions` of `order` (epoch `epoch`) into `images` [n, 3, 32, 32] and their
    /// labels into `labels`, with pad-4/crop-32/flip augmentation when enabled. Returns n.
    @discardableResult
    public func fill(
        epoch: Int, order: [Int32], positions: Range<Int>,
        images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>
    ) -> Int {
        let size = LabeledImages.imageBytes
        let zeroPadding = padding == .zero
        data.images.withUnsafeBufferPointer { raw in
            scale.withUnsafeBufferPointer { scale in
                offset.withUnsafeBufferPointer { offset in
                    for (slot, position) in positions.enumerated() {
                        let index = Int(order[position])
                        labels[slot] = Int32(data.labels[index])
                        let src = raw.baseAddress! + index * size
                        let dst = images + slot * size
                        var dx = 0
                        var dy = 0
                        var flip = false
                        if augment {
                            var rng = SplitMix64(
                                seed: seed, stream: RandomStream.augmentation.rawValue,
                                UInt64(epoch), UInt64(position))
                            let r = rng.next()
                            dx = Int(r % 9) - 4
                            dy = Int((r >> 8) % 9) - 4
                            flip = (r >> 16) & 1 == 1
                        }
                        for c in 0..<3 {
                            for y in 0..<32 {
                                let sy = y + dy
                                for x in 0..<32 {
                                    let i = c * 1024 + y * 32 + x
                                    let sx = (flip ? 31 - x : x) + dx
                                    if sy >= 0 && sy < 32 && sx >= 0 && sx < 32 {
                                        dst[i] = Float(src[c * 1024 + sy * 32 + sx]) * scale[i] + offset[i]
                                    } else {
                                        dst[i] = zeroPadding ? 0 : 0 * scale[i] + offset[i]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return positions.count
    }
}
