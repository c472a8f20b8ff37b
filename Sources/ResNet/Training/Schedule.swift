import Foundation

/// The learning rate as a function of the iteration: `base * gamma^k` after the k-th milestone,
/// with the paper's optional warm-up for very deep nets (lr 0.01 until the training error falls
/// below 80%, then the base rate), and the large-batch ramp of Goyal et al. (2017): linear from a
/// smaller rate up to `base` over the first iterations. Instead of milestones, a large-batch run may
/// decay smoothly to 0 at its last iteration (polynomial of power 2, as LARS's authors, or cosine).
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
    /// A decay from `base` (after the ramp) to 0 at `iterations`; nil: milestones only.
    public var decay: Decay?

    public enum Decay: String, Sendable, Equatable, Codable, CaseIterable {
        /// `base * (1 - progress)^2`, You et al.'s LARS schedule.
        case polynomial
        /// `base * (1 + cos(pi * progress)) / 2`.
        case cosine
    }

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

    /// The paper's warm-up: "0.01 ... until the training error is below 80% (about 400
    /// iterations)". The error is the global training error averaged over a window of iterations,
    /// one epoch by default, as the training error of an epoch in the paper's logs; checked at the
    /// end of each window, so at batch 128 the earliest switch is after iteration 391.
    public struct Warmup: Sendable, Equatable, Codable {
        public var learningRate: Double = 0.01
        public var errorThreshold: Double = 0.8
        /// Iterations per window (one epoch of batches by default).
        public var window: Int
        public init(window: Int) { self.window = max(1, window) }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            learningRate = try c.decode(Double.self, forKey: .learningRate)
            errorThreshold = try c.decode(Double.self, forKey: .errorThreshold)
            // Before 0.5 the rule was a moving average with no window; 0 marks such a schedule.
            window = try c.decodeIfPresent(Int.self, forKey: .window) ?? 0
        }
    }

    public init(
        base: Double, milestones: [Int], gamma: Double = 0.1, iterations: Int, warmup: Warmup? = nil,
        ramp: LinearRamp? = nil, decay: Decay? = nil
    ) {
        self.base = base
        self.milestones = milestones.sorted()
        self.gamma = gamma
        self.iterations = iterations
        self.warmup = warmup
        self.ramp = ramp
        self.decay = decay
    }

    /// The paper's CIFAR schedule: 0.1, divided by 10 at 32k and 48k, stop at 64k.
    public static func paper(warmup: Warmup?) -> LearningRateSchedule {
        .init(base: 0.1, milestones: [32_000, 48_000], iterations: paperIterations, warmup: warmup)
    }

    /// The paper's CIFAR run length, 64k iterations.
    public static let paperIterations = 64_000

    /// The paper's shape scaled to a shorter run: divide by 10 at 50% and 75% of it.
    public static func scaled(iterations: Int, base: Double = 0.1, warmup: Warmup?) -> LearningRateSchedule {
        .init(base: base, milestones: [iterations / 2, iterations * 3 / 4], iterations: iterations, warmup: warmup)
    }

    /// Whether a run trained under `earlier` may go on under this schedule: as long or longer, and
    /// the same rate at every iteration `earlier` covers (the same base, warm-up and ramp, and the
    /// milestones before its end where they were). This is extending a run (`--iterations 40` after
    /// 20, `--epochs 200` after 164 with explicit milestones); milestones that follow from the
    /// length (`--recipe paper`) move with it, and such a schedule does not extend the old one.
    public func extends(_ earlier: LearningRateSchedule) -> Bool {
        let before = { (m: [Int]) in m.filter { $0 < earlier.iterations } }
        // A decay's rates depend on the run's length: such a run goes on only at its own length.
        let sameDecay = decay == earlier.decay && (decay == nil || iterations == earlier.iterations)
        return iterations >= earlier.iterations && base == earlier.base && gamma == earlier.gamma
            && warmup == earlier.warmup && ramp == earlier.ramp && before(milestones) == before(earlier.milestones)
            && sameDecay
    }

    /// The schedule in a user's words: `lr 0.1, x0.1 at iterations 5865, 8993; 11730 iterations`.
    public var summary: String {
        var text = "lr \(base)"
        if let ramp { text += " (ramp from \(ramp.start) over \(ramp.iterations) iterations)" }
        if let warmup {
            text += " (warm-up at \(warmup.learningRate) until the training error < \(Int(warmup.errorThreshold * 100))%)"
        }
        if let decay { text += ", \(decay.rawValue) decay to 0" }
        if !milestones.isEmpty { text += ", x\(gamma) at iterations \(milestones.map(String.init).joined(separator: ", "))" }
        return text + "; \(iterations) iterations"
    }

    public func learningRate(iteration: Int, warmupDone: Bool) -> Double {
        if let warmup, !warmupDone { return warmup.learningRate }
        var lr = base
        if let ramp, iteration < ramp.iterations {
            lr = ramp.start + (base - ramp.start) * Double(iteration) / Double(ramp.iterations)
        } else if let decay {
            let start = ramp?.iterations ?? 0
            let progress = min(1, Double(iteration - start) / Double(max(1, iterations - start)))
            switch decay {
            case .polynomial: lr = base * (1 - progress) * (1 - progress)
            case .cosine: lr = base * (1 + cos(Double.pi * progress)) / 2
            }
        }
        for m in milestones where iteration >= m { lr *= gamma }
        return lr
    }
}

/// Whether warm-up is over, decided on the all-reduced training error (so every rank agrees):
/// the mean of the per-iteration errors of the current window, checked when the window is full.
public struct WarmupState: Sendable, Equatable {
    public var done: Bool
    /// Sum of the global training errors of the window so far, and how many iterations it holds.
    public var windowErrorSum: Double
    public var windowSteps: Int

    public init(done: Bool, windowErrorSum: Double = 0, windowSteps: Int = 0) {
        self.done = done
        self.windowErrorSum = windowErrorSum
        self.windowSteps = windowSteps
    }

    public mutating func record(error: Double, warmup: LearningRateSchedule.Warmup) {
        guard !done else { return }
        windowErrorSum += error
        windowSteps += 1
        guard windowSteps >= warmup.window else { return }
        if windowErrorSum / Double(windowSteps) < warmup.errorThreshold { done = true }
        windowErrorSum = 0
        windowSteps = 0
    }
}
