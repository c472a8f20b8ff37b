/// How raw pixels (0-255) become network inputs; stored with every trained model so that `eval`
/// applies the same transform.
public enum Normalization: Sendable, Equatable {
    /// The paper's choice: subtract the per-pixel mean image of the training set
    /// (values scaled to [0, 1] first). `mean` is [3, 32, 32].
    case perPixelMean(mean: [Float])
    /// Per-channel `(pixel/255 - mean[c]) / std[c]`.
    case perChannel(mean: [Float], std: [Float])

    /// The CIFAR-10 constants of common PyTorch recipes.
    public static let pytorchCIFAR10 = Normalization.perChannel(
        mean: [0.4914, 0.4822, 0.4465],
        std: [0.2470, 0.2435, 0.2616])

    /// The per-pixel mean of a data set.
    public static func perPixelMean(of data: LabeledImages) -> Normalization {
        let size = LabeledImages.imageBytes
        var sums = [Double](repeating: 0, count: size)
        data.images.withUnsafeBufferPointer { img in
            for n in 0..<data.count {
                for i in 0..<size { sums[i] += Double(img[n * size + i]) }
            }
        }
        return .perPixelMean(mean: sums.map { Float($0 / Double(max(data.count, 1)) / 255) })
    }

    /// Per-channel mean and standard deviation of a data set.
    public static func perChannel(of data: LabeledImages) -> Normalization {
        var mean = [Float]()
        var std = [Float]()
        for c in 0..<3 {
            var s = 0.0
            var s2 = 0.0
            for n in 0..<data.count {
                let base = n * LabeledImages.imageBytes + c * 1024
                for i in 0..<1024 {
                    let v = Double(data.images[base + i]) / 255
                    s += v
                    s2 += v * v
                }
            }
            let count = Double(data.count * 1024)
            mean.append(Float(s / count))
            std.append(Float((s2 / count - (s / count) * (s / count)).squareRoot()))
        }
        return .perChannel(mean: mean, std: std)
    }

    /// Name stored in checkpoints.
    public var kind: String {
        switch self {
        case .perPixelMean: "per-pixel-mean"
        case .perChannel: "per-channel"
        }
    }

    /// Per-position offset and scale for a [3, side, side] image: `input = raw * scale[i] + offset[i]`.
    /// A per-pixel mean must have been taken over images of that side.
    public func affine(side: Int) -> (scale: [Float], offset: [Float]) {
        let plane = side * side
        let size = 3 * plane
        switch self {
        case .perPixelMean(let mean):
            precondition(mean.count == size, "a per-pixel mean of \(mean.count) values for \(side)x\(side) images")
            return ([Float](repeating: 1 / 255, count: size), mean.map { -$0 })
        case .perChannel(let mean, let std):
            var scale = [Float](repeating: 0, count: size)
            var offset = scale
            for c in 0..<3 {
                for i in 0..<plane {
                    scale[c * plane + i] = 1 / (255 * std[c])
                    offset[c * plane + i] = -mean[c] / std[c]
                }
            }
            return (scale, offset)
        }
    }
}
