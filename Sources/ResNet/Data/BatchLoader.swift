/// CIFAR-10's batches (a `BatchSource`): 32x32 images held in memory, with the paper's pad-4 /
/// crop-32 / flip augmentation drawn from (seed, epoch, position).
public struct BatchLoader: BatchSource {
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
        (scale, offset) = normalization.affine(side: 32)
    }

    public var count: Int { data.count }
    public var inputFloats: Int { LabeledImages.imageBytes }

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
