/// The learning rate as a function of the iteration: `base * gamma^k` after the k-th milestone,
/// with the paper's optional warm-up for very deep nets (lr 0.01 until the training error falls
/// below 80%, then the base rate), and the large-batch ramp of Goyal et al. (2017): linear from a
/// smaller rate up to `base` over the first iterations.
public struct LearningRateSchedule: Sendable, Equatable, Codable {
    /// The peak rate: after any linear scaling with the batch, before the milestones.
    public var base: Double
    /// Iterations at which the rate is multiplied by `gamma`.
    public var milestones: [Int]
    public var gamma: Double
    /// Total iterations of the run.
    public var iterations: Int
    public var warmup: Warmup?
    /// Linear ramp to `base`; nil for none.
    public var ramp: LinearRamp?

    /// Goyal et al.'s gradual warm-up: the rate rises linearly from `start` at iteration 0 to
    /// `base` at `iterations`, a step each iteration.
    public struct LinearRamp: Sendable, Equatable, Codable {
        public var start: Double
        public var iterations: Int
        public init(start: Double, iterations: Int) {
            self.start = start
            self.iterations = iterations
        }
    }

    public struct Warmup: Sendable, Equatable, Codable {
        public var learningRate: Double = 0.01
        /// Warm-up ends at the first iteration whose smoothed global training error is below this.
        public var errorThreshold: Double = 0.8
        public init() {}
    }

    public init(
        base: Double, milestones: [Int], gamma: Double = 0.1, iterations: Int, warmup: Warmup? = nil,
        ramp: LinearRamp? = nil
    ) {
        self.base = base
        self.milestones = milestones.sorted()
        self.gamma = gamma
        self.iterations = iterations
        self.warmup = warmup
        self.ramp = ramp
    }

    /// The paper's CIFAR schedule: 0.1, divided by 10 at 32k and 48k, stop at 64k.
    public static func paper(warmup: Bool) -> LearningRateSchedule {
        .init(base: 0.1, milestones: [32_000, 48_000], iterations: 64_000, warmup: warmup ? Warmup() : nil)
    }

    /// The paper's shape scaled to a shorter run: divide by 10 at 50% and 75% of it.
    public static func scaled(iterations: Int, base: Double = 0.1, warmup: Bool) -> LearningRateSchedule {
        .init(
            base: base, milestones: [iterations / 2, iterations * 3 / 4], iterations: iterations,
            warmup: warmup ? Warmup() : nil)
    }

    public func learningRate(iteration: Int, warmupDone: Bool) -> Double {
        if let warmup, !warmupDone { return warmup.learningRate }
        var lr = base
        if let ramp, iteration < ramp.iterations {
            lr = ramp.start + (base - ramp.start) * Double(iteration) / Double(ramp.iterations)
        }
        for m in milestones where iteration >= m { lr *= gamma }
        return lr
    }
}

/// Whether warm-up is over, decided on the all-reduced training error (so every rank agrees).
public struct WarmupState: Sendable, Equatable {
    public var done: Bool
    /// Exponential moving average of the global training error (weight 0.1 per step).
    public var smoothedError: Double

    public init(done: Bool, smoothedError: Double = 0.9) {
        self.done = done
        self.smoothedError = smoothedError
    }

    public mutating func record(error: Double, threshold: Double) {
        guard !done else { return }
        smoothedError = 0.9 * smoothedError + 0.1 * error
        if smoothedError < threshold { done = true }
    }
}
