/// How the contiguous gradient buffer is cut into all-reduce buckets: fixed once, from the
/// parameter layout alone, when the data-parallel step is made (as PyTorch DDP's reducer does).
///
/// Backward finishes gradients from the end of the buffer (the fc) towards its start (the first
/// conv), so the buckets are taken in that order: walking the parameters from the last to the
/// first, a bucket closes at the first parameter boundary where it holds at least `bucketFloats`
/// floats; the last bucket takes what remains. Every rank builds the same plan from the same
/// network, so every rank issues the same all-reduces, of the same sizes, in the same order,
/// whatever its shard of the batch holds.
public struct GradientBucketPlan: Sendable, Equatable {
    /// Float ranges of the gradient buffer, in launch order (the highest offsets first). Together
    /// they cover `0..<parameterCount` exactly once.
    public let buckets: [Range<Int>]

    /// `bucketFloats` >= 1: the least a bucket holds before it closes (a single larger tensor makes
    /// a larger bucket).
    public init(parameters: [TensorSpec], bucketFloats: Int) {
        precondition(bucketFloats >= 1)
        var buckets: [Range<Int>] = []
        var end = parameters.last.map { $0.offset + $0.count } ?? 0
        for spec in parameters.reversed() where end - spec.offset >= bucketFloats {
            buckets.append(spec.offset..<end)
            end = spec.offset
        }
        if end > 0 { buckets.append(0..<end) }
        self.buckets = buckets
    }

    /// The plan for a bucket size in MiB (`--bucket-mb`), float32 gradients.
    public init(parameters: [TensorSpec], bucketMiB: Double) {
        self.init(parameters: parameters, bucketFloats: Self.floats(mebibytes: bucketMiB))
    }

    static func floats(mebibytes: Double) -> Int { max(1, Int((mebibytes * 1_048_576 / 4).rounded())) }

    /// The default bucket size in MiB (see docs/RESULTS.md, "Bucket size").
    public static let defaultMiB = 1.0
}
