/// Everything that defines a training run.
public struct TrainingConfiguration: Sendable {
    public var architecture: Architecture
    /// Global batch size (over all ranks); any world size takes it, each rank holding
    /// floor(B/N) or ceil(B/N) images.
    public var globalBatch = 128
    /// The least a gradient all-reduce bucket holds, MiB (`GradientBucketPlan`).
    public var bucketMiB = GradientBucketPlan.defaultMiB
    public var schedule: LearningRateSchedule
    public var optimizer = SGD()
    /// The loss's targets put `1 - labelSmoothing` on the label and spread `labelSmoothing` over
    /// all classes (`SoftmaxCrossEntropy`); 0: one-hot, the paper's.
    public var labelSmoothing: Float = 0
    public var seed: UInt64 = 1
    /// Fresh weights start with every residual block's last batch-norm weight at 0
    /// (`Network.zeroResidualBranches`, Goyal et al. 2017).
    public var zeroInitResidual = false
    /// Threads per rank for the convolutions.
    public var threads = 1
    /// How `threads` was chosen, for the start-up line (e.g. "default: the 2 cores in this rank's affinity mask").
    public var threadsReason: String?
    /// Threads per rank that decode and augment the next batches while the step runs (0: the
    /// step's own thread fills each batch in place, CIFAR-10's way).
    public var decodeThreads = 0
    /// Synchronised batch norm: statistics over the global batch instead of each rank's shard.
    public var syncBatchNorm = false
    /// Ghost batch norm: normalise over groups of this many images inside a rank (nil: the whole shard).
    public var batchNormGroup: Int?
    /// Gradients travel in bfloat16 (summed in float32 on arrival) instead of float32.
    public var bfloat16Gradients = false
    public var augment = true
    /// Every training step holds a full global batch: each epoch leaves out the last
    /// `count mod globalBatch` images of its order (`FullBatches`, PyTorch's `drop_last`).
    public var dropLast = false
    /// The border of the augmentation's crop.
    public var padding: BatchLoader.Padding = .black
    /// Evaluate on the test set every this many iterations (and at the end); nil: once per epoch.
    public var evalEvery: Int?
    public var logEvery = 20
    /// Write a checkpoint every this many iterations (and at the end, and on a stop signal);
    /// nil: once per epoch.
    public var checkpointEvery: Int?
    public var keepCheckpoints = 3
    /// Metrics and checkpoints go here; nil writes nothing.
    public var outputDirectory: String?
    public var resume: Resume = .none
    /// A new run replaces another run found in `outputDirectory` instead of refusing it.
    public var overwriteOutput = false
    /// Extra fields for `run-config.json` (version, command line, data, normalisation).
    public var runRecord: [String: String] = [:]
    /// Start from the weights (not the state) of this checkpoint or PyTorch state dict.
    public var initFrom: String?
    /// Stop (with a checkpoint) after this iteration, as if the job were killed there.
    public var stopAfter: Int?
    /// A step whose mean loss is not finite or exceeds this ends the run with an error (nil: never).
    public var divergenceLoss: Double? = 100
    /// Print a live progress line (coordinator only).
    public var progress = true
    /// For fault-handling tests: this rank throws an error when it reaches this iteration.
    public var injectFailure: (rank: Int, iteration: Int)?

    public enum Resume: Sendable, Equatable {
        case none
        /// The newest good checkpoint in the output directory, if any.
        case auto
        case file(String)
    }

    public init(architecture: Architecture, schedule: LearningRateSchedule) {
        self.architecture = architecture
        self.schedule = schedule
    }
}

/// What a finished (or stopped) run reports.
public struct TrainingResult: Sendable {
    public var iterations: Int
    /// Global mean loss of every step this process ran, in order.
    public var losses: [Double]
    public var testAccuracy: Double?
    public var testLoss: Double?
    /// Mean training error over the last logged window.
    public var trainError: Double?
    /// Training images per second, evaluation and checkpoints excluded.
    public var trainingImagesPerSecond: Double
    /// Images trained per second of wall time (evaluation and checkpoints included).
    public var imagesPerSecond: Double
    public var wallSeconds: Double
    /// Seconds this rank's steps waited for their input (decoding, or waiting for the decode threads).
    public var inputWaitSeconds = 0.0
    /// True when every rank's parameters and buffers were bit-identical at the end.
    public var replicasIdentical: Bool
    public var finalCheckpoint: String?
    /// The stop signal that ended the run early (after a checkpoint), if any.
    public var stoppedBySignal: Int32?
}
