/// Where a training step's time goes, by kind of work (layers, the all-reduce wait, the optimizer):
/// the bench's breakdown.
/// Off by default (a nil profile costs one branch per layer).
public final class StepProfile {
    public enum Kind: String, CaseIterable, Sendable {
        case convForward = "conv forward"
        case convBackwardData = "conv backward-data"
        case convBackwardWeights = "conv backward-weights"
        case batchNorm = "batch norm"
        /// The shortcut addition and the block's final ReLU, fused into one pass (the other ReLUs
        /// are fused into batch norm).
        case shortcut = "shortcut + relu"
        case head = "pool + fc + loss"
        case allReduce = "all-reduce"
        case optimizer = "optimizer"
    }

    public private(set) var seconds: [Kind: Double] = [:]
    /// Floating-point operations counted for each kind (convolutions: 2 x MACs per pass).
    public private(set) var flops: [Kind: Double] = [:]

    public init() {}

    @inline(__always)
    public func measure<T>(_ kind: Kind, flops count: Double = 0, _ body: () throws -> T) rethrows -> T {
        let start = monotonicSeconds()
        let result = try body()
        seconds[kind, default: 0] += monotonicSeconds() - start
        if count > 0 { flops[kind, default: 0] += count }
        return result
    }
}

extension Optional where Wrapped == StepProfile {
    /// Runs `body`, timing it when a profile is attached.
    @inline(__always)
    func measure<T>(_ kind: StepProfile.Kind, flops count: Double = 0, _ body: () throws -> T) rethrows -> T {
        if let profile = self { return try profile.measure(kind, flops: count, body) }
        return try body()
    }
}
