/// PyTorch's `drop_last` for training: every epoch visits the first ⌊count / B⌋ · B positions of its
/// permutation, so every step holds a full global batch of B images. Without it an epoch ends with a
/// short batch (80 images at B = 128, 848 at B = 8,192: one step in seven there, taken at the full
/// rate on a tenth of the images). Which images are left out changes every epoch with the
/// permutation; what a kept position becomes is the base source's, position for position.
public struct FullBatches: BatchSource {
    public let base: any BatchSource

    public init(_ base: any BatchSource) {
        precondition(base.count >= base.globalBatch, "no full batch of \(base.globalBatch) in \(base.count) images")
        self.base = base
    }

    public var count: Int { base.count / base.globalBatch * base.globalBatch }
    public var globalBatch: Int { base.globalBatch }
    public var seed: UInt64 { base.seed }
    public var viewsPerImage: Int { base.viewsPerImage }
    public var inputFloats: Int { base.inputFloats }
    public var classNames: [String]? { base.classNames }

    public func fill(
        epoch: Int, order: [Int32], positions: Range<Int>,
        images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>
    ) throws -> Int {
        try base.fill(epoch: epoch, order: order, positions: positions, images: images, labels: labels)
    }

    public func permutation(epoch: Int) -> [Int32] { Array(base.permutation(epoch: epoch).prefix(count)) }
}
