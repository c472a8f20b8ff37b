import Foundation

/// A training checkpoint's record of where its run stood, as plain values: the checkpoint
/// layer owns this and knows nothing of training types. Read from `__metadata__` (strings),
/// every key checked for type and range, errors naming the file and the key.
public struct CheckpointMetadata: Sendable, Equatable {
    /// Iterations completed.
    public var iteration: Int
    public var seed: UInt64
    public var warmupDone: Bool
    /// The paper's warm-up: the sum of the training errors of the current window (bit-exact)
    /// and the iterations in it.
    public var warmupWindowErrorSum: Double
    public var warmupWindowSteps: Int
    public var globalBatch: Int
    public var worldSize: Int
    public var batchesPerEpoch: Int
    public var syncBatchNorm: Bool
    /// The rate of the next iteration (for people reading the file).
    public var learningRate: Double
    /// The learning-rate schedule and the optimizer settings, as JSON written by the trainer.
    public var schedule: String
    public var optimizer: String?
    /// The loss's label smoothing ε (written only when not 0, so checkpoints without it keep
    /// their bytes and older ones read as 0).
    public var labelSmoothing: Float = 0
    /// A stop signal ended the evaluation after `iteration` (written only when true).
    public var evaluationPending = false

    public init(
        iteration: Int, seed: UInt64, warmupDone: Bool, warmupWindowErrorSum: Double, warmupWindowSteps: Int,
        globalBatch: Int,
        worldSize: Int, batchesPerEpoch: Int, syncBatchNorm: Bool, learningRate: Double, schedule: String,
        optimizer: String?
    ) {
        self.iteration = iteration
        self.seed = seed
        self.warmupDone = warmupDone
        self.warmupWindowErrorSum = warmupWindowErrorSum
        self.warmupWindowSteps = warmupWindowSteps
        self.globalBatch = globalBatch
        self.worldSize = worldSize
        self.batchesPerEpoch = batchesPerEpoch
        self.syncBatchNorm = syncBatchNorm
        self.learningRate = learningRate
        self.schedule = schedule
        self.optimizer = optimizer
    }

    /// The strings a checkpoint stores.
    var strings: [String: String] {
        var meta: [String: String] = [
            "iteration": String(iteration),
            "seed": String(seed),
            "warmup_done": String(warmupDone),
            "warmup_window_error_sum_bits": String(warmupWindowErrorSum.bitPattern, radix: 16),
            "warmup_window_steps": String(warmupWindowSteps),
            "rng": "stateless: SplitMix64 streams of (seed, purpose, epoch, position)",
            "global_batch": String(globalBatch),
            "world_size": String(worldSize),
            "batches_per_epoch": String(batchesPerEpoch),
            "epoch": String(iteration / batchesPerEpoch),
            "batch_in_epoch": String(iteration % batchesPerEpoch),
            "sync_bn": String(syncBatchNorm),
            "learning_rate": String(learningRate),
            "schedule": schedule,
        ]
        if let optimizer { meta["optimizer"] = optimizer }
        if labelSmoothing != 0 { meta["label_smoothing"] = String(labelSmoothing) }
        if evaluationPending { meta["evaluation_pending"] = "true" }
        return meta
    }

    /// Reads the run record of `path`'s metadata; nil when the file has none (a bare state dict).
    init?(_ meta: [String: String], path: String) throws {
        guard meta["iteration"] != nil else { return nil }
        func value<T>(
            _ key: String, _ parse: (String) -> T?, _ rule: String, _ valid: (T) -> Bool = { _ in true }
        ) throws -> T {
            guard let text = meta[key] else {
                throw ResNetError(.damagedCheckpoint, "\(path): metadata key '\(key)' is missing")
            }
            guard let parsed = parse(text), valid(parsed) else {
                throw ResNetError(
                    .damagedCheckpoint, "\(path): metadata key '\(key)' is '\(text.prefix(80))', not \(rule)")
            }
            return parsed
        }
        let bool = { (text: String) -> Bool? in Bool(text) }
        iteration = try value("iteration", { Int($0) }, "an iteration count >= 0") { $0 >= 0 }
        seed = try value("seed", { UInt64($0) }, "a seed 0...2^64-1")
        warmupDone = try value("warmup_done", bool, "true or false")
        // A finished warm-up needs no window (checkpoints before 0.5 have none).
        let windowKeysNeeded = !warmupDone || meta["warmup_window_steps"] != nil
        let steps =
            windowKeysNeeded
            ? try value("warmup_window_steps", { Int($0) }, "an iteration count >= 0") { $0 >= 0 } : 0
        warmupWindowSteps = steps
        warmupWindowErrorSum =
            windowKeysNeeded
            ? try value(
                "warmup_window_error_sum_bits", { UInt64($0, radix: 16).map(Double.init(bitPattern:)) },
                "the hex bits of a sum of errors in [0, warmup_window_steps]"
            ) { $0 >= 0 && $0 <= Double(steps) } : 0
        globalBatch = try value("global_batch", { Int($0) }, "a batch size >= 1") { $0 >= 1 }
        worldSize = try value("world_size", { Int($0) }, "a world size >= 1") { $0 >= 1 }
        batchesPerEpoch = try value("batches_per_epoch", { Int($0) }, "a count >= 1") { $0 >= 1 }
        syncBatchNorm = try value("sync_bn", bool, "true or false")
        learningRate = try value("learning_rate", { Double($0) }, "a finite learning rate") { $0.isFinite }
        schedule = try value("schedule", { $0 }, "a schedule")
        optimizer = meta["optimizer"]
        labelSmoothing =
            meta["label_smoothing"] == nil
            ? 0 : try value("label_smoothing", { Float($0) }, "a label smoothing in [0, 1)") { $0 >= 0 && $0 < 1 }
        evaluationPending =
            meta["evaluation_pending"] == nil ? false : try value("evaluation_pending", bool, "true or false")
        let epoch = iteration / batchesPerEpoch
        let position = iteration % batchesPerEpoch
        if let stored = meta["epoch"], stored != String(epoch) {
            throw ResNetError(
                .damagedCheckpoint,
                "\(path): metadata key 'epoch' is '\(stored)', but iteration \(iteration) at \(batchesPerEpoch) batches an epoch is in epoch \(epoch)"
            )
        }
        if let stored = meta["batch_in_epoch"], stored != String(position) {
            throw ResNetError(
                .damagedCheckpoint, "\(path): metadata key 'batch_in_epoch' is '\(stored)', not \(position)")
        }
    }
}
