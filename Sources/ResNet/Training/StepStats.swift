import Distributed

/// Loss and correct predictions of one step or of several, summed over every rank's images.
public struct StepStats: Sendable, Equatable {
    /// Sum of the per-image cross-entropies.
    public var lossSum = 0.0
    public var correct = 0.0
    public var images = 0.0

    public init(lossSum: Double = 0, correct: Double = 0, images: Double = 0) {
        self.lossSum = lossSum
        self.correct = correct
        self.images = images
    }

    /// Mean loss per image.
    public var loss: Double { lossSum / images }
    /// Fraction of images misclassified.
    public var error: Double { 1 - correct / images }

    public static func += (total: inout StepStats, step: StepStats) {
        total.lossSum += step.lossSum
        total.correct += step.correct
        total.images += step.images
    }

    /// These statistics summed over every rank in one all-reduce through `scratch`: its first three
    /// numbers are set here, any after them are the caller's and are summed alike. The caller keeps
    /// `scratch` across calls, so a step allocates nothing.
    public func summed(over communicator: Communicator, scratch: inout [Double]) throws -> StepStats {
        scratch[0] = lossSum
        scratch[1] = correct
        scratch[2] = images
        try scratch.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        return StepStats(lossSum: scratch[0], correct: scratch[1], images: scratch[2])
    }
}
