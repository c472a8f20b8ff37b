import Foundation

/// Where a run stands: everything besides the tensors that an exact resume needs. Data order and
/// augmentation are functions of (seed, epoch, position), so the iteration fixes them.
public struct TrainingState: Sendable, Equatable {
    /// Iterations completed.
    public var iteration: Int
    public var warmup: WarmupState
    public var seed: UInt64
    /// A stop signal ended the evaluation after `iteration`: the resumed run evaluates first.
    public var evaluationPending: Bool

    public init(iteration: Int = 0, warmup: WarmupState, seed: UInt64, evaluationPending: Bool = false) {
        self.iteration = iteration
        self.warmup = warmup
        self.seed = seed
        self.evaluationPending = evaluationPending
    }

    /// One more iteration done, with this step's global statistics.
    mutating func advance(after step: StepStats, schedule: LearningRateSchedule) {
        if let warmup = schedule.warmup { self.warmup.record(error: step.error, warmup: warmup) }
        iteration += 1
    }

    /// The state a checkpoint records, after checking that it belongs to the run `config` describes
    /// (batch, seed, schedule, optimizer) and that its record agrees with its own schedule.
    public init(resuming resumed: Checkpoint.Loaded, config: TrainingConfiguration) throws {
        let path = resumed.path
        guard let run = resumed.run else {
            throw ResNetError(
                .mismatchedCheckpoint,
                "\(path): not a training checkpoint (no run record in its metadata): use --init-from to start from its weights"
            )
        }
        guard run.globalBatch == config.globalBatch else {
            throw ResNetError(
                .mismatchedCheckpoint,
                "\(path) was trained with global batch \(run.globalBatch), not \(config.globalBatch)")
        }
        guard run.seed == config.seed else {
            throw ResNetError(
                .mismatchedCheckpoint,
                "\(path) was trained with seed \(run.seed), not \(config.seed): resume with --seed \(run.seed)")
        }
        guard let schedule = try? JSONDecoder().decode(LearningRateSchedule.self, from: Data(run.schedule.utf8)) else {
            throw ResNetError(.damagedCheckpoint, "\(path): metadata key 'schedule' is not a learning-rate schedule")
        }
        guard config.schedule.extends(schedule) else {
            let milestones = schedule.milestones.map(String.init).joined(separator: ",")
            throw ResNetError(
                .mismatchedCheckpoint,
                "\(path) was trained with another learning-rate schedule (\(schedule.summary)); this run asks for \(config.schedule.summary). A run goes on, or is extended, only when the rate up to its end stays the same: resume with its flags, or extend it with --lr \(schedule.base)\(milestones.isEmpty ? "" : " --milestones \(milestones)") and a larger --iterations or --epochs"
            )
        }
        guard run.iteration <= schedule.iterations else {
            throw ResNetError(
                .damagedCheckpoint,
                "\(path): metadata key 'iteration' is \(run.iteration), past the schedule's \(schedule.iterations) iterations"
            )
        }
        if let text = run.optimizer {
            guard let stored = try? JSONDecoder().decode(SGD.self, from: Data(text.utf8)) else {
                throw ResNetError(
                    .damagedCheckpoint, "\(path): metadata key 'optimizer' is not an optimizer record (momentum, weight decay, trust coefficient)")
            }
            guard stored == config.optimizer else {
                throw ResNetError(
                    .mismatchedCheckpoint,
                    "\(path) was trained with \(stored.summary) (metadata key 'optimizer'), not \(config.optimizer.summary): resume with \(stored.flags)"
                )
            }
        }
        guard run.labelSmoothing == config.labelSmoothing else {
            throw ResNetError(
                .mismatchedCheckpoint,
                "\(path) was trained with label smoothing \(run.labelSmoothing) (metadata key 'label_smoothing'), not \(config.labelSmoothing): resume with --label-smoothing \(run.labelSmoothing)"
            )
        }
        self.init(
            iteration: run.iteration,
            warmup: WarmupState(
                done: run.warmupDone, windowErrorSum: run.warmupWindowErrorSum, windowSteps: run.warmupWindowSteps),
            seed: run.seed, evaluationPending: run.evaluationPending)
    }
}
