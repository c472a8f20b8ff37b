import Distributed
import Foundation
import Kernels
import Logging

/// Data-parallel training: every rank holds a replica, takes its shard of each global batch,
/// and applies the same update after the gradients are summed over ranks (`DataParallelStep`).
/// The coordinator (rank 0) prints, writes metrics and checkpoints; the schedule's decisions use
/// all-reduced values, so every rank takes them alike.
public final class Trainer {
    public let config: TrainingConfiguration
    public let communicator: Communicator
    public let network: Network
    public let step: DataParallelStep
    /// The test set's batches (views without augmentation), or nil.
    public let test: (any BatchSource)?
    public let normalization: Normalization
    let logger: Logger
    var batches: ShardedBatches
    /// The stop signal this rank has received, or 0; nil: the run takes no stop requests. Asked
    /// after every step and before every evaluation batch; a request ends the run with a checkpoint.
    var stopRequest: (() -> Int32)?
    private var stopCounts = [Int64](repeating: 0, count: StopSignals.handled.count)
    /// Rank 0's hold on the output directory while `run` trains there.
    var runLock: RunDirectoryLock?

    /// `train` cuts the global batches (its `globalBatch` is the configuration's); `test` is read
    /// at most a shard's worth of inputs at a time.
    public init(
        config: TrainingConfiguration, communicator: Communicator, train: any BatchSource,
        test: (any BatchSource)?, normalization: Normalization, logger: Logger, quiet: Bool = false
    ) throws {
        let world = communicator.size
        guard config.batchNormGroup == nil || !config.syncBatchNorm else {
            throw ResNetError(.configuration, "--bn-group and --sync-bn do not go together: choose one")
        }
        guard config.globalBatch >= 1 else {
            throw ResNetError(.configuration, "global batch \(config.globalBatch) must be at least 1")
        }
        precondition(train.globalBatch == config.globalBatch)
        let side = config.architecture.inputSize
        for (name, source) in [("training", train), ("test", test)] {
            guard let source, source.inputFloats != 3 * side * side else { continue }
            let dataSide = Int((Double(source.inputFloats / 3)).squareRoot())
            throw ResNetError(
                .configuration,
                "\(config.architecture.name) takes \(side)x\(side) images but the \(name) data are \(dataSide)x\(dataSide): \(side == 224 ? "give --data an image folder (DIR/train/CLASS/*.JPEG)" : "an image folder's views are 224x224: choose resnet18, resnet34, plain18 or plain34")"
            )
        }
        self.config = config
        self.communicator = communicator
        self.test = test
        self.normalization = normalization
        var logger = logger
        if quiet || communicator.rank != 0 { logger.logLevel = .warning }
        self.logger = logger
        // Shards hold floor(B/N) or ceil(B/N) images (none on the ranks beyond B).
        let shard = Self.largestShard(globalBatch: config.globalBatch, worldSize: world)
        try Network.requireMemory(
            for: config.architecture, images: shard,
            what: "--batch-size \(config.globalBatch) on \(world) rank\(world == 1 ? "" : "s")")
        network = Network(
            config.architecture, batchCapacity: shard,
            threads: config.threads, batchNormGroup: config.batchNormGroup)
        step = DataParallelStep(
            network: network, communicator: communicator, optimizer: config.optimizer,
            syncBatchNorm: config.syncBatchNorm, bucketMiB: config.bucketMiB, bfloat16: config.bfloat16Gradients,
            labelSmoothing: config.labelSmoothing)
        batches = ShardedBatches(
            source: config.dropLast ? FullBatches(train) : train, rank: communicator.rank, worldSize: world, decodeThreads: config.decodeThreads,
            capacity: network.batchCapacity)
    }

    /// CIFAR-10 in memory: the paper's augmentation (per the configuration) for training, none for testing.
    public convenience init(
        config: TrainingConfiguration, communicator: Communicator, train: LabeledImages,
        test: LabeledImages?, normalization: Normalization, logger: Logger, quiet: Bool = false
    ) throws {
        let (trainSource, testSource) = Self.sources(
            config: config, worldSize: communicator.size, train: train, test: test, normalization: normalization)
        try self.init(
            config: config, communicator: communicator, train: trainSource, test: testSource,
            normalization: normalization, logger: logger, quiet: quiet)
    }

    /// CIFAR-10's batches for a run: augmented (per the configuration) for training, plain for testing.
    public static func sources(
        config: TrainingConfiguration, worldSize: Int, train: LabeledImages, test: LabeledImages?,
        normalization: Normalization
    ) -> (train: any BatchSource, test: (any BatchSource)?) {
        let capacity = largestShard(globalBatch: config.globalBatch, worldSize: worldSize)
        return (
            BatchLoader(
                data: train, globalBatch: config.globalBatch, seed: config.seed,
                augment: config.augment, normalization: normalization, padding: config.padding),
            test.map { BatchLoader(data: $0, globalBatch: capacity, seed: 0, augment: false, normalization: normalization) }
        )
    }

    /// The most images any rank holds of a global batch: `ceil(B/N)`, at least 1.
    public static func largestShard(globalBatch: Int, worldSize: Int) -> Int {
        max(1, (globalBatch + worldSize - 1) / worldSize)
    }

    /// Catch SIGTERM/SIGINT/SIGUSR1 and stop after the current step (or evaluation batch) with a checkpoint.
    public func handleStopSignals() {
        StopSignals.shared.install()
        stopRequest = { StopSignals.shared.requested }
    }

    var isCoordinator: Bool { communicator.isCoordinator }
    /// The training set's batches.
    public var source: any BatchSource { batches.source }

    /// Runs until the schedule's last iteration, `stopAfter`, or a stop signal (each ends with a
    /// checkpoint when there is an output directory).
    public func run() throws -> TrainingResult {
        defer { runLock = nil }
        var state = try start()
        let total = config.schedule.iterations
        let stop = min(total, config.stopAfter ?? total)
        let perEpoch = batches.batchesPerEpoch
        let events = RunEvents(
            stop: stop, total: total, logEvery: config.logEvery,
            evalEvery: test == nil ? nil : config.evalEvery ?? perEpoch,
            checkpointEvery: config.checkpointEvery ?? perEpoch,
            writesCheckpoints: config.outputDirectory != nil && isCoordinator)
        let report = try TrainingReport(
            enabled: isCoordinator, directory: config.outputDirectory, progress: config.progress,
            total: total, batchesPerEpoch: perEpoch, topFive: config.architecture.classes > 10, logger: logger)
        let checkpoints = config.outputDirectory.map { CheckpointDirectory(path: $0, keep: config.keepCheckpoints) }
        var losses: [Double] = []
        losses.reserveCapacity(max(0, stop - state.iteration))  // no growth inside the loop
        var lastEval: StepStats?
        var finalCheckpoint: String?
        var stoppedBy: Int32?
        let startIteration = state.iteration
        var asideSeconds = 0.0  // evaluation and checkpoints
        if isCoordinator {
            logger.info("\(startLine(state: state, stop: stop))")
            if state.iteration >= stop {
                logger.notice("the run is already at iteration \(state.iteration): nothing to do")
            }
        }

        if state.evaluationPending && events.evaluate(after: state.iteration) {
            // The run was stopped during this evaluation: it comes first.
            lastEval = try evaluate(progress: isCoordinator ? report.progress.evaluation : nil)
            if let lastEval, isCoordinator { try report.logEvaluation(iteration: state.iteration, lastEval) }
        }
        state.evaluationPending = false
        while state.iteration < stop {
            let lr = config.schedule.learningRate(iteration: state.iteration, warmupDone: state.warmup.done)
            try failIfInjected(at: state.iteration)
            let shard = try batches.load(iteration: state.iteration, into: network)
            let stats = try step.run(images: shard.local, globalImages: shard.global, learningRate: lr)
            try checkDivergence(stats, iteration: state.iteration)
            state.advance(after: stats, schedule: config.schedule)
            losses.append(stats.loss)
            let it = state.iteration
            report.record(
                stats, iteration: it, learningRate: lr, remainingIterations: stop - it, globalBatch: config.globalBatch)
            stoppedBy = try agreedStopSignal()
            if events.log(after: it) || stoppedBy != nil {
                try report.logWindow(
                    iteration: it, learningRate: lr, remainingIterations: stop - it,
                    globalBatch: config.globalBatch)
            }
            let asideStart = monotonicSeconds()
            if events.evaluate(after: it) && stoppedBy == nil {
                report.progress.pause()
                if let result = try evaluate(progress: isCoordinator ? report.progress.evaluation : nil) {
                    lastEval = result
                    if isCoordinator { try report.logEvaluation(iteration: it, result) }
                } else {
                    // A stop came during the pass: the checkpoint says so, and a resumed run evaluates first.
                    state.evaluationPending = true
                    stoppedBy = try agreedStopSignal()
                }
            }
            if let checkpoints, events.checkpoint(after: it) || (stoppedBy != nil && isCoordinator) {
                finalCheckpoint = try checkpoints.save(
                    network, normalization: normalization, classNames: source.classNames,
                    run: checkpointRecord(state))
            }
            let aside = monotonicSeconds() - asideStart
            asideSeconds += aside
            report.excludeFromRate(seconds: aside)
            if stoppedBy != nil { break }
        }
        report.progress.finish()
        let identical = try replicasIdentical()
        let wall = monotonicSeconds() - report.runStart
        let images = Double((state.iteration - startIteration) * config.globalBatch)
        if isCoordinator {
            if communicator.size > 1 { logger.info("replicas bit-identical: \(identical ? "yes" : "NO")") }
            if let stoppedBy {
                logger.notice(
                    "stopped by \(StopSignals.name(stoppedBy)) after iteration \(state.iteration)\(finalCheckpoint.map { "; wrote \($0): resume with --resume auto" } ?? " (no --output: nothing saved)")"
                )
            } else if let finalCheckpoint {
                logger.info("wrote \(finalCheckpoint)")
            }
        }
        return TrainingResult(
            iterations: state.iteration, losses: losses, testAccuracy: lastEval.map { 1 - $0.error },
            testLoss: lastEval?.loss, trainError: report.lastTrainError,
            trainingImagesPerSecond: images / max(wall - asideSeconds, 1e-9),
            imagesPerSecond: images / max(wall, 1e-9), wallSeconds: wall,
            inputWaitSeconds: batches.inputSeconds, replicasIdentical: identical, finalCheckpoint: finalCheckpoint,
            stoppedBySignal: stoppedBy)
    }

    func startLine(state: TrainingState, stop: Int) -> String {
        let world = communicator.size
        return
            "training \(config.architecture) (\(network.parameterCount) parameters) on \(world) rank\(world == 1 ? "" : "s") x \(config.threads) thread\(config.threads == 1 ? "" : "s")\(config.threadsReason.map { " (\($0))" } ?? ""), global batch \(config.globalBatch), \(source.count) training images, iterations \(state.iteration)..<\(stop) of \(config.schedule.iterations)"
    }

    /// A step whose global loss is not finite, or above the bound, ends the run before anything
    /// of it is saved: the last checkpoint on disk stays the last good one. Every rank sees the
    /// same all-reduced loss, so all stop together.
    func checkDivergence(_ stats: StepStats, iteration: Int) throws {
        guard let bound = config.divergenceLoss else { return }
        if !stats.loss.isFinite || stats.loss > bound {
            throw ResNetError(
                .diverged,
                "training diverged at iteration \(iteration + 1): loss \(stats.loss) (bound \(bound)); nothing of this step was saved. Lower --lr, or pass --allow-nonfinite to keep going"
            )
        }
    }

    /// The stop signal any rank has received, agreed by all ranks in one all-reduce, or nil.
    func agreedStopSignal() throws -> Int32? {
        guard let stopRequest else { return nil }
        let mine = stopRequest()
        // How many ranks got each signal, in a buffer kept across steps (the loop allocates nothing).
        for (i, number) in StopSignals.handled.enumerated() { stopCounts[i] = number == mine ? 1 : 0 }
        try stopCounts.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        return stopCounts.firstIndex { $0 > 0 }.map { StopSignals.handled[$0] }
    }

    /// For fault-handling tests (`--inject-failure RANK:ITERATION`).
    func failIfInjected(at iteration: Int) throws {
        if let failure = config.injectFailure, failure.rank == communicator.rank, failure.iteration == iteration {
            throw ResNetError(.injectedFailure, "injected failure at iteration \(iteration) (--inject-failure)")
        }
    }

    /// Test loss and accuracy with running BN statistics; the test set is split over ranks and the
    /// sums all-reduced. Nil without a test set, or when a stop signal ended the pass on any rank
    /// (between two batches: mpirun kills the ranks a second after it forwards SIGTERM).
    public func evaluate(progress: ((_ done: Int, _ count: Int) -> Void)? = nil) throws -> StepStats? {
        guard let test else { return nil }
        let share = chunkRange(communicator.rank, of: communicator.size, count: test.count)
        let local = try Evaluation.run(
            network, on: test, range: share, decodeThreads: config.decodeThreads, progress: progress,
            stopRequested: { (stopRequest?() ?? 0) != 0 })
        // The four sums, and how many ranks stopped early.
        var scratch: [Double] = [0, 0, 0, 0, local == nil ? 1 : 0]
        let global = try (local ?? StepStats()).summed(over: communicator, scratch: &scratch)
        return scratch[4] == 0 ? global : nil
    }

    /// Whether every rank holds exactly rank 0's parameters, buffers and momentum.
    public func replicasIdentical() throws -> Bool {
        guard communicator.size > 1 else { return true }
        var reference = [Int64(bitPattern: network.digest())]
        let mine = reference[0]
        try reference.withUnsafeMutableBytes { try communicator.broadcast($0, root: 0) }
        var differing: [Int64] = [mine == reference[0] ? 0 : 1]
        try differing.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        return differing[0] == 0
    }
}

extension Network {
    /// FNV-1a over the bits of every parameter, buffer and momentum value.
    public func digest() -> UInt64 {
        var hash = FNV1a64()
        for buffer in [store.valueBuffer, store.runningStatistics, store.momentumBuffer] {
            for v in buffer { hash.combine(UInt64(v.bitPattern)) }
        }
        return hash.value
    }
}
