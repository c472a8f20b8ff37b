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
    /// The convolution passes again, by layer shape (`Convolution.shapeDescription`), in the order
    /// the shapes were first seen: what `bench --by-layer` prints.
    public private(set) var shapes: [String] = []
    public private(set) var byShape: [String: ShapeTimes] = [:]

    /// One layer shape's convolution passes: seconds per pass kind, and how many layers of that
    /// shape ran a forward pass.
    public struct ShapeTimes: Sendable {
        public var seconds: [Kind: Double] = [:]
        public var flops: [Kind: Double] = [:]
        public var forwardCalls = 0
    }

    public init() {}

    @inline(__always)
    public func measure<T>(
        _ kind: Kind, flops count: Double = 0, shape: String? = nil, _ body: () throws -> T
    ) rethrows -> T {
        let start = monotonicSeconds()
        let result = try body()
        let elapsed = monotonicSeconds() - start
        seconds[kind, default: 0] += elapsed
        if count > 0 { flops[kind, default: 0] += count }
        if let shape {
            if byShape[shape] == nil { shapes.append(shape) }
            byShape[shape, default: ShapeTimes()].seconds[kind, default: 0] += elapsed
            if count > 0 { byShape[shape, default: ShapeTimes()].flops[kind, default: 0] += count }
            if kind == .convForward { byShape[shape, default: ShapeTimes()].forwardCalls += 1 }
        }
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

    /// As above, also filed under the layer's shape; the description is only built when profiling.
    @inline(__always)
    func measure<T>(
        _ kind: StepProfile.Kind, flops count: Double, shape: @autoclosure () -> String, _ body: () throws -> T
    ) rethrows -> T {
        if let profile = self { return try profile.measure(kind, flops: count, shape: shape(), body) }
        return try body()
    }
}
