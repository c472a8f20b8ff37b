import Distributed

/// Loss and correct predictions of one step or of several, summed over every rank's images.
public struct StepStats: Sendable, Equatable {
    /// Sum of the per-image cross-entropies.
    public var lossSum = 0.0
    public var correct = 0.0
    public var images = 0.0
    /// Images whose label is among the 5 highest scores (counted by evaluation only).
    public var correctTop5 = 0.0

    public init(lossSum: Double = 0, correct: Double = 0, images: Double = 0, correctTop5: Double = 0) {
        self.lossSum = lossSum
        self.correct = correct
        self.images = images
        self.correctTop5 = correctTop5
    }

    /// Mean loss per image.
    public var loss: Double { lossSum / images }
    /// Fraction of images misclassified.
    public var error: Double { 1 - correct / images }
    /// Fraction of images whose label is not among the 5 highest scores.
    public var top5Error: Double { 1 - correctTop5 / images }

    public static func += (total: inout StepStats, step: StepStats) {
        total.lossSum += step.lossSum
        total.correct += step.correct
        total.images += step.images
        total.correctTop5 += step.correctTop5
    }

    /// These statistics summed over every rank in one all-reduce through `scratch`: its first four
    /// numbers are set here, any after them are the caller's and are summed alike. The caller keeps
    /// `scratch` across calls, so a step allocates nothing.
    public func summed(over communicator: Communicator, scratch: inout [Double]) throws -> StepStats {
        scratch[0] = lossSum
        scratch[1] = correct
        scratch[2] = images
        scratch[3] = correctTop5
        try scratch.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        return StepStats(lossSum: scratch[0], correct: scratch[1], images: scratch[2], correctTop5: scratch[3])
    }
}
