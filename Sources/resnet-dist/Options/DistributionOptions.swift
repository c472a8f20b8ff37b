import ArgumentParser
import ResNet

/// How the ranks of a data-parallel job exchange what they computed (train and bench alike).
struct DistributionOptions: ParsableArguments {
    @Flag(
        name: .customLong("sync-bn"),
        help: "Batch-norm statistics over the global batch (all-reduced) instead of per rank.")
    var syncBN = false

    @Option(
        name: .customLong("bucket-mb"), parsing: .unconditional,
        help: "The least a gradient all-reduce bucket holds, MiB: buckets are cut once, at parameter boundaries, from the fc back to the first conv, and each starts while backward runs.")
    var bucketMB = GradientBucketPlan.defaultMiB

    @Option(
        name: .customLong("bn-group"), parsing: .unconditional,
        help:
            "Ghost batch norm: normalise over groups of N images inside each rank, as ranks of N images each would (Hoffer et al. 2017); a shard that N does not divide ends with a smaller group. (default: over each rank's whole shard)"
    )
    var bnGroup: Int?

    @Option(
        name: .customLong("allreduce-precision"),
        help:
            "fp32, or bf16: gradient buckets travel in bfloat16 (half the bytes), each pair summed in float32 on arrival and rounded once.")
    var allreducePrecision: Precision = .fp32

    enum Precision: String, ExpressibleByArgument, CaseIterable { case fp32, bf16 }

    func validate() throws {
        try Self.requireBucketSize(bucketMB)
        try require(
            (1...ScheduleOptions.maxBatchSize).contains(bnGroup ?? 1),
            "--bn-group must be in 1...\(ScheduleOptions.maxBatchSize.formatted()), got \(bnGroup ?? 1)")
        try require(bnGroup == nil || !syncBN, "--bn-group and --sync-bn do not go together: choose one")
    }

    /// `--bucket-mb` of train and scaling: positive and at most 1 TiB (`--bucket-mb 1e308` trapped
    /// converting its bytes to an integer).
    static func requireBucketSize(_ bucketMB: Double) throws {
        try require(
            bucketMB.isFinite && bucketMB > 0 && bucketMB <= 1_048_576,
            "--bucket-mb must be a positive number of MiB up to 1,048,576, got \(bucketMB)")
    }
}
