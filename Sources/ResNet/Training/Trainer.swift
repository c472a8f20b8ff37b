import Distributed
import Foundation
import Kernels
import Logging

/// Everything that defines a training run.
public struct TrainingConfiguration: Sendable {
    public var architecture: Architecture
    /// Global batch size (over all ranks); the world size must divide it.
    public var globalBatch = 128
    public var schedule: LearningRateSchedule
    public var optimizer = SGD()
    public var seed: UInt64 = 1
    /// Threads per rank for the convolutions.
    public var threads = 1
    /// Synchronised batch norm: statistics over the global batch instead of each rank's shard.
    public var syncBatchNorm = false
    public var augment = true
    /// Evaluate on the test set every this many iterations (and at the end); nil: once per epoch.
    public var evalEvery: Int?
    public var logEvery = 20
    /// Write a checkpoint every this many iterations (and at the end); nil: only at the end.
    public var checkpointEvery: Int?
    public var keepCheckpoints = 3
    /// Metrics and checkpoints go here; nil writes nothing.
    public var outputDirectory: String?
    public var resume: Resume = .none
    /// Start from the weights (not the state) of this checkpoint or PyTorch state dict.
    public var initFrom: String?
    /// Stop (with a checkpoint) after this iteration, as if the job were killed there.
    public var stopAfter: Int?
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
    public var imagesPerSecond: Double
    public var wallSeconds: Double
    /// True when every rank's parameters and buffers were bit-identical at the end.
    public var replicasIdentical: Bool
    public var finalCheckpoint: String?
}

/// A bad combination of settings.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Data-parallel training: every rank holds a replica, takes its shard of each global batch,
/// and applies the same update after the gradients are summed over ranks. The coordinator
/// (rank 0) prints, writes metrics and checkpoints; the schedule's decisions use all-reduced values.
///
/// One step: batch -> forward -> loss -> backward -> all-reduce -> update.
public final class Trainer {
    public let config: TrainingConfiguration
    public let communicator: Communicator
    public let network: Network
    public let loader: BatchLoader
    public let test: LabeledImages?
    public let normalization: Normalization
    let logger: Logger
    let buckets: GradientBuckets

    public init(config: TrainingConfiguration, communicator: Communicator, train: LabeledImages,
                test: LabeledImages?, normalization: Normalization, logger: Logger, quiet: Bool = false) throws {
        let world = communicator.size
        guard !config.architecture.isImageNet else {
            throw ConfigurationError("\(config.architecture.name) is an ImageNet network (224x224 inputs) and there is no ImageNet reader: use info and bench for it")
        }
        guard config.globalBatch >= world, config.globalBatch % world == 0 else {
            throw ConfigurationError("global batch \(config.globalBatch) is not divisible by the world size \(world)")
        }
        self.config = config
        self.communicator = communicator
        self.test = test
        self.normalization = normalization
        // Convolutions are parallelised over images; BLAS itself stays at one thread.
        BLASThreads.set(1)
        var logger = logger
        if quiet || communicator.rank != 0 { logger.logLevel = .warning }
        self.logger = logger
        network = Network(config.architecture, batchCapacity: config.globalBatch / world, threads: config.threads)
        buckets = GradientBuckets(communicator: communicator, store: network.store)
        buckets.attach(to: network)
        loader = BatchLoader(data: train, globalBatch: config.globalBatch, seed: config.seed,
                             augment: config.augment, normalization: normalization)
        if config.syncBatchNorm && world > 1 {
            let comm = communicator
            network.statisticsReducer = { buffer in
                do { try comm.allReduceSum(buffer) } catch {
                    FileHandle.standardError.write(Data("error: sync-BN all-reduce failed: \(error)\n".utf8))
                    comm.abort(code: 1)
                }
            }
        }
    }

    var isCoordinator: Bool { communicator.rank == 0 }

    /// Fresh weights, a checkpoint's weights, or a whole resumed state; replicas synchronised from rank 0.
    func start() throws -> TrainingState {
        var state = TrainingState(warmup: WarmupState(done: config.schedule.warmup == nil), seed: config.seed)
        network.initialize(seed: config.seed)
        var resumed: Checkpoint.Loaded?
        switch config.resume {
        case .none: break
        case .file(let path): resumed = try Checkpoint.load(path, expected: config.architecture)
        case .auto:
            if let dir = config.outputDirectory {
                resumed = try CheckpointDirectory(path: dir).latestGood(expected: config.architecture) { message in
                    if isCoordinator { logger.warning("\(message)") }
                }
            }
        }
        if let resumed {
            guard let s = resumed.state else { throw CheckpointError("\(resumed.path): not a training checkpoint (no iteration in its metadata)") }
            if let b = resumed.globalBatch, b != config.globalBatch {
                throw ConfigurationError("\(resumed.path) was trained with global batch \(b), not \(config.globalBatch)")
            }
            if let stored = resumed.schedule, stored != config.schedule {
                throw ConfigurationError("\(resumed.path) was trained with another learning-rate schedule (metadata key 'schedule': \(resumed.metadata["schedule"] ?? "")): resume with the run's flags (--lr, --lr-scaling, --warmup-epochs, --milestones, --epochs/--iterations)")
            }
            if let stored = resumed.optimizer, stored != config.optimizer {
                throw ConfigurationError("\(resumed.path) was trained with momentum \(stored.momentum) and weight decay \(stored.weightDecay) (metadata key 'optimizer'): resume with --momentum \(stored.momentum) --weight-decay \(stored.weightDecay)")
            }
            guard s.seed == config.seed else {
                throw ConfigurationError("\(resumed.path) was trained with seed \(s.seed), not \(config.seed): resume with --seed \(s.seed)")
            }
            try resumed.apply(to: network, optimizer: true)
            state = s
            if isCoordinator {
                let from = resumed.worldSize.map { " (written by \($0) rank\($0 == 1 ? "" : "s"))" } ?? ""
                logger.info("resuming from \(resumed.path) at iteration \(s.iteration)\(from) on \(communicator.size) rank\(communicator.size == 1 ? "" : "s")")
            }
        } else if let path = config.initFrom {
            try Checkpoint.load(path, expected: config.architecture).apply(to: network, optimizer: false)
            if isCoordinator { logger.info("initialised weights from \(path)") }
        }
        // Rank 0's replica is the truth: broadcast parameters, buffers and momentum.
        let store = network.store
        try communicator.broadcast(UnsafeMutableRawBufferPointer(store.valueBuffer), root: 0)
        try communicator.broadcast(UnsafeMutableRawBufferPointer(store.bufferBuffer), root: 0)
        try communicator.broadcast(UnsafeMutableRawBufferPointer(store.momentumBuffer), root: 0)
        return state
    }

    /// Runs until the schedule's last iteration (or `stopAfter`).
    public func run() throws -> TrainingResult {
        var state = try start()
        let world = communicator.size, rank = communicator.rank
        let total = config.schedule.iterations
        let perEpoch = loader.batchesPerEpoch
        let stop = min(total, config.stopAfter ?? total)
        let metrics = isCoordinator ? try MetricsLog(directory: config.outputDirectory) : nil
        let checkpoints = config.outputDirectory.map { CheckpointDirectory(path: $0, keep: config.keepCheckpoints) }
        let runInfo = Checkpoint.RunInfo(globalBatch: config.globalBatch, worldSize: world, schedule: config.schedule,
                                         batchesPerEpoch: perEpoch, syncBatchNorm: config.syncBatchNorm,
                                         optimizer: config.optimizer)
        let evalEvery = config.evalEvery ?? perEpoch
        let progress = ProgressLine(enabled: isCoordinator && config.progress, total: total)

        var losses: [Double] = []
        losses.reserveCapacity(max(0, stop - state.iteration)) // no growth inside the loop
        var order: [Int32] = []
        var orderEpoch = -1
        var window = (loss: 0.0, correct: 0.0, count: 0.0, images: 0, start: monotonicSeconds())
        var lastTrainError: Double?
        var lastEval: (loss: Double, accuracy: Double)?
        var finalCheckpoint: String?
        let runStart = monotonicSeconds()
        let startIteration = state.iteration
        var sums = [Double](repeating: 0, count: 3)

        if isCoordinator {
            logger.info("training \(config.architecture) (\(network.parameterCount) parameters) on \(world) rank\(world == 1 ? "" : "s") x \(config.threads) thread\(config.threads == 1 ? "" : "s"), global batch \(config.globalBatch), \(loader.data.count) training images, iterations \(state.iteration)..<\(stop) of \(total)")
        }

        while state.iteration < stop {
            let it = state.iteration
            let epoch = it / perEpoch, batchIndex = it % perEpoch
            if epoch != orderEpoch { order = loader.permutation(epoch: epoch); orderEpoch = epoch }
            let (global, local) = loader.shard(batch: batchIndex, rank: rank, worldSize: world)
            let lr = config.schedule.learningRate(iteration: it, warmupDone: state.warmup.done)
            if let failure = config.injectFailure, failure.rank == rank, failure.iteration == it {
                throw ConfigurationError("rank \(rank): injected failure at iteration \(it) (--inject-failure)")
            }

            // batch -> forward -> loss -> backward
            let n = loader.fill(epoch: epoch, order: order, positions: local,
                                images: network.inputImages, labels: network.inputLabels)
            let (lossSum, correct): (Double, Int)
            buckets.begin()
            if n > 0 {
                (lossSum, correct) = network.trainStep(batch: n, gradScale: 1 / Float(global.count))
            } else {
                network.store.gradients.update(repeating: 0, count: network.parameterCount)
                (lossSum, correct) = (0, 0)
            }
            // -> all-reduce (the sum of per-rank gradients of sum(loss)/B is the global mean's),
            // in buckets that started during backward
            try buckets.finish()
            sums[0] = lossSum; sums[1] = Double(correct); sums[2] = Double(n)
            try sums.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
            // -> update
            config.optimizer.step(network.store, learningRate: Float(lr))
            try synchronizeBatchNormStatistics()

            let stepLoss = sums[0] / sums[2], stepError = 1 - sums[1] / sums[2]
            losses.append(stepLoss)
            if let warmup = config.schedule.warmup { state.warmup.record(error: stepError, threshold: warmup.errorThreshold) }
            state.iteration += 1
            window.loss += sums[0]; window.correct += sums[1]; window.count += sums[2]; window.images += global.count

            let done = state.iteration == stop
            if state.iteration % config.logEvery == 0 || done {
                let now = monotonicSeconds()
                let rate = Double(window.images) / max(now - window.start, 1e-9)
                let loss = window.loss / window.count, error = 1 - window.correct / window.count
                lastTrainError = error
                metrics?.write(["kind": "train", "iteration": state.iteration, "epoch": Double(state.iteration) / Double(perEpoch),
                                "lr": lr, "loss": loss, "error": error, "images_per_s": rate, "time_s": now - runStart])
                progress.update(iteration: state.iteration, loss: loss, error: error, lr: lr, imagesPerSecond: rate,
                                remaining: Double((stop - state.iteration) * config.globalBatch) / rate)
                window = (0, 0, 0, 0, monotonicSeconds())
            }
            if test != nil && (state.iteration % evalEvery == 0 || state.iteration == total) {
                progress.pause()
                let result = try evaluate()
                lastEval = (result.loss, result.accuracy)
                if isCoordinator {
                    metrics?.write(["kind": "eval", "iteration": state.iteration, "epoch": Double(state.iteration) / Double(perEpoch),
                                    "test_loss": result.loss, "test_error": 1 - result.accuracy, "test_accuracy": result.accuracy])
                    logger.info("iteration \(state.iteration): test accuracy \(String(format: "%.2f", result.accuracy * 100))%, loss \(String(format: "%.4f", result.loss))")
                }
                // The rate covers training only: restart its clock and count after an evaluation.
                window.start = monotonicSeconds()
                window.images = 0
            }
            if let checkpoints, isCoordinator,
               done || (config.checkpointEvery.map { state.iteration % $0 == 0 } ?? false) {
                finalCheckpoint = try checkpoints.save(network, normalization: normalization, state: state, run: runInfo)
            }
        }
        progress.finish()
        let identical = try replicasIdentical()
        let wall = monotonicSeconds() - runStart
        let images = Double((stop - startIteration) * config.globalBatch)
        if isCoordinator {
            if world > 1 { logger.info("replicas bit-identical: \(identical ? "yes" : "NO")") }
            if let finalCheckpoint { logger.info("wrote \(finalCheckpoint)") }
        }
        return TrainingResult(iterations: state.iteration, losses: losses, testAccuracy: lastEval?.accuracy,
                              testLoss: lastEval?.loss, trainError: lastTrainError,
                              imagesPerSecond: images / max(wall, 1e-9), wallSeconds: wall,
                              replicasIdentical: identical, finalCheckpoint: finalCheckpoint)
    }

    /// Per-rank batch norm leaves each rank with running statistics of its own shards: average
    /// them over ranks after every step (the same bits everywhere), so that replicas stay identical
    /// and the running mean is that of the global batch. With sync BN they already agree.
    func synchronizeBatchNormStatistics() throws {
        guard communicator.size > 1, !config.syncBatchNorm else { return }
        let buffers = network.store.bufferBuffer
        try communicator.allReduceSum(buffers)
        let scale = 1 / Float(communicator.size)
        for i in buffers.indices { buffers[i] *= scale }
    }

    /// Test loss and accuracy with running BN statistics; the test set is split over ranks and the
    /// counts summed.
    public func evaluate() throws -> (loss: Double, accuracy: Double) {
        guard let test else { return (.nan, .nan) }
        let share = chunkRange(communicator.rank, of: communicator.size, count: test.count)
        let evaluator = BatchLoader(data: test, globalBatch: network.batchCapacity, seed: 0, augment: false,
                                    normalization: normalization)
        let identity = (0..<Int32(test.count)).map { $0 }
        var sums = [0.0, 0.0, 0.0]
        var start = share.lowerBound
        while start < share.upperBound {
            let end = min(start + network.batchCapacity, share.upperBound)
            let n = evaluator.fill(epoch: 0, order: identity, positions: start..<end,
                                   images: network.inputImages, labels: network.inputLabels)
            let (loss, correct) = network.evaluate(batch: n)
            sums[0] += loss; sums[1] += Double(correct); sums[2] += Double(n)
            start = end
        }
        try sums.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        return (sums[0] / sums[2], sums[1] / sums[2])
    }

    /// Whether every rank holds exactly rank 0's parameters, buffers and momentum.
    public func replicasIdentical() throws -> Bool {
        guard communicator.size > 1 else { return true }
        var digest = [Int64(bitPattern: network.digest())]
        var reference = digest
        try reference.withUnsafeMutableBytes { try communicator.broadcast($0, root: 0) }
        var differing: [Int64] = [digest == reference ? 0 : 1]
        try differing.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        digest = differing
        return digest[0] == 0
    }
}

extension Network {
    /// FNV-1a over the bits of every parameter, buffer and momentum value.
    public func digest() -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for buffer in [store.valueBuffer, store.bufferBuffer, store.momentumBuffer] {
            for v in buffer { h = (h ^ UInt64(v.bitPattern)) &* 0x100_0000_01b3 }
        }
        return h
    }
}
