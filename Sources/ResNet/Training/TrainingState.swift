/// Where a run stands: everything besides the tensors that an exact resume needs. Data order and
/// augmentation are functions of (seed, epoch, position), so the iteration fixes them.
public struct TrainingState: Sendable, Equatable {
    /// Iterations completed.
    public var iteration: Int
    public var warmup: WarmupState
    public var seed: UInt64

    public init(iteration: Int = 0, warmup: WarmupState, seed: UInt64) {
        self.iteration = iteration
        self.warmup = warmup
        self.seed = seed
    }

    /// One more iteration done, with this step's global statistics.
    mutating func advance(after step: StepStats, schedule: LearningRateSchedule) {
        if let warmup = schedule.warmup { self.warmup.record(error: step.error, threshold: warmup.errorThreshold) }
        iteration += 1
    }
}
