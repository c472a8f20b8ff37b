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
}
