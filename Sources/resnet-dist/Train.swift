import ArgumentParser
import Distributed
import Foundation
import Kernels
import Logging
import ResNet

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a CIFAR ResNet or plain net (under mpirun: data-parallel over the ranks).")

    @OptionGroup var model: ModelOptions
    @OptionGroup var dataOptions: DataOptions

    @Option(help: "Preset: 'paper' = batch 128, lr 0.1 /10 at 32k and 48k, stop at 64k, warm-up for 110/1202, per-pixel mean. With --epochs or --iterations the paper's shape is kept: /10 at 50% and 75% of the run (flags given explicitly, e.g. --milestones, still win).")
    var recipe: Recipe?

    @Option(name: .customLong("batch-size"), help: "Global batch size (all ranks together); default 128.")
    var batchSize: Int?

    @Option(help: "Iterations to train (default: the schedule's, 64k for paper).")
    var iterations: Int?

    @Option(help: "Epochs to train (instead of --iterations); an epoch is ceil(train images / batch) iterations.")
    var epochs: Int?

    @Option(help: "Base learning rate (at the reference batch when --lr-scaling linear).")
    var lr = 0.1

    @Option(name: .customLong("lr-scaling"), help: "none, or linear: lr = base lr x global batch / reference batch (Goyal et al. 2017).")
    var lrScaling: LearningRateScaling = .none

    @Option(name: .customLong("reference-batch"), help: "The batch at which --lr holds, for --lr-scaling linear.")
    var referenceBatch = 128

    @Option(name: .customLong("warmup-epochs"), help: "Ramp the lr linearly, every iteration, from the base lr to the scaled lr over the first K epochs (fractions allowed).")
    var warmupEpochs: Double?

    @Option(help: "SGD momentum.")
    var momentum: Float = 0.9

    @Option(name: .customLong("weight-decay"), help: "L2 weight decay on every parameter.")
    var weightDecay: Float = 1e-4

    @Option(help: "paper (/10 at 32k and 48k), scaled (/10 at 50% and 75% of the run), constant.")
    var schedule: ScheduleKind = .paper

    @Option(help: "Iterations at which the lr is divided by 10, comma-separated; a suffix e means epochs (e.g. 2e). Overrides --schedule.")
    var milestones: String?

    @Option(help: "Warm-up at lr 0.01 until training error < 80%: auto (ResNet-110 and deeper), on, off.")
    var warmup: WarmupMode = .auto

    @Option(help: "Seed for initialisation, data order and augmentation.")
    var seed: UInt64 = 1

    @Option(help: "Threads per rank for the convolutions.")
    var threads = 1

    @Option(help: "Directory for metrics.jsonl and checkpoints (*.safetensors).")
    var output: String?

    @Flag(name: .customLong("sync-bn"), help: "Batch-norm statistics over the global batch (all-reduced) instead of per rank.")
    var syncBN = false

    @Flag(name: .customLong("no-augment"), help: "No pad/crop/flip augmentation.")
    var noAugment = false

    @Flag(name: .customLong("validation-split"), help: "Train on the first 45k training images and evaluate on the last 5k (the paper's 45k/5k split).")
    var validationSplit = false

    @Option(name: .customLong("train-subset"), help: "Use only the first N training images.")
    var trainSubset: Int?

    @Option(name: .customLong("eval-every"), help: "Evaluate every N iterations (default: every epoch, and at the end).")
    var evalEvery: Int?

    @Option(name: .customLong("log-every"), help: "Log and write metrics every N iterations.")
    var logEvery = 20

    @Option(name: .customLong("checkpoint-every"), help: "Checkpoint every N iterations (always at the end).")
    var checkpointEvery: Int?

    @Option(help: "Checkpoints to keep.")
    var keep = 3

    @Option(help: "Resume: auto (newest good checkpoint in --output, if any) or a checkpoint file.")
    var resume: String?

    @Option(name: .customLong("init-from"), help: "Start from the weights of a checkpoint or PyTorch state dict (safetensors).")
    var initFrom: String?

    @Option(name: .customLong("stop-after"), help: "Stop after this iteration with a checkpoint, as a job killed there would (for resume tests).")
    var stopAfter: Int?

    @Option(help: "In-process replicas on threads (no launcher): the distributed path in one process.")
    var replicas = 1

    @Flag(help: "Single-node test mode: a tiny model for a few steps over 1 and 2 in-process replicas, with self-checks.")
    var test = false

    @Option(name: .customLong("inject-failure"), help: .hidden)
    var injectFailure: String?

    @Flag(help: "Print the result as one JSON object on standard output.")
    var json = false

    enum ScheduleKind: String, ExpressibleByArgument { case paper, scaled, constant }
    enum WarmupMode: String, ExpressibleByArgument { case auto, on, off }
    enum Recipe: String, ExpressibleByArgument { case paper }
    enum LearningRateScaling: String, ExpressibleByArgument { case none, linear }

    func run() throws {
        if test {
            let ok = SelfTest.run(threads: threads)
            if !ok { throw ExitCode.failure }
            return
        }
        let communicator: Communicator
        do {
            communicator = MPICommunicator.launchedByMPI ? try MPICommunicator() : SingleProcessCommunicator()
        } catch { fail(error) }
        do {
            try train(communicator: communicator)
            (communicator as? MPICommunicator)?.finalize()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            fail(error, communicator: communicator)
        }
    }

    func train(communicator: Communicator) throws {
        let logger = makeLogger(rank: communicator.rank)
        let architecture = try model.architecture()
        let batch = batchSize ?? 128
        var scheduleKind = schedule, normalizationKind = dataOptions.normalization
        if recipe == .paper {
            scheduleKind = .paper
            if normalizationKind == nil && dataOptions.mean == nil { normalizationKind = .perPixel }
        }
        guard batch >= 1 else { throw ValidationError("--batch-size must be positive") }
        guard threads >= 1, replicas >= 1 else { throw ValidationError("--threads and --replicas must be at least 1") }
        BLASThreads.set(1)

        // Data: CIFAR-10 from disk, or the generated set.
        var (train, test) = try loadData(logger: logger, rank: communicator.rank)
        if let n = trainSubset {
            guard n >= 1, n <= train.count else { throw ValidationError("--train-subset must be 1...\(train.count)") }
            train = train.subset(0..<n)
        }
        if validationSplit {
            guard train.count > 5000 else { throw ValidationError("--validation-split needs more than 5,000 training images") }
            test = train.subset((train.count - 5000)..<train.count)
            train = train.subset(0..<(train.count - 5000))
        }
        var options = dataOptions
        options.normalization = normalizationKind
        let normalization = try options.requestedNormalization(train: train) ?? Normalization.perPixelMean(of: train)

        // Length and schedule.
        let perEpoch = (train.count + batch - 1) / batch
        if iterations != nil && epochs != nil { throw ValidationError("give --iterations or --epochs, not both") }
        let length = iterations ?? epochs.map { $0 * perEpoch }
        if let length, length < 1 { throw ValidationError("the run must have at least one iteration") }
        let useWarmup = warmup == .on || (warmup == .auto && architecture.depth >= 110)
        var lrSchedule: LearningRateSchedule
        let peak = lrScaling == .linear ? lr * Double(batch) / Double(referenceBatch) : lr
        switch scheduleKind {
        case .paper where recipe == .paper && length != nil:
            // The paper's shape compressed to the requested length: /10 at 50% and 75%, as 32k/48k of 64k.
            lrSchedule = .scaled(iterations: length!, base: peak, warmup: useWarmup)
        case .paper:
            lrSchedule = .paper(warmup: useWarmup)
            lrSchedule.base = peak
            if let length { lrSchedule.iterations = length }
        case .scaled:
            lrSchedule = .scaled(iterations: length ?? 64_000, base: peak, warmup: useWarmup)
        case .constant:
            lrSchedule = .init(base: peak, milestones: [], iterations: length ?? 64_000, warmup: useWarmup ? .init() : nil)
        }
        if let warmupEpochs, warmupEpochs > 0 {
            lrSchedule.ramp = .init(start: lr, iterations: max(1, Int((warmupEpochs * Double(perEpoch)).rounded())))
        }
        if let milestones {
            lrSchedule.milestones = try milestones.split(separator: ",").map { item -> Int in
                let text = item.trimmingCharacters(in: .whitespaces)
                if text.hasSuffix("e"), let e = Double(text.dropLast()), e.isFinite, e >= 0 {
                    return Int((e * Double(perEpoch)).rounded())
                }
                guard let i = Int(text) else { throw ValidationError("--milestones: '\(text)' is not an iteration count or Ne") }
                return i
            }.sorted()
        }

        var config = TrainingConfiguration(architecture: architecture, schedule: lrSchedule)
        config.globalBatch = batch
        config.optimizer = SGD(momentum: momentum, weightDecay: weightDecay)
        config.seed = seed
        config.threads = threads
        config.syncBatchNorm = syncBN
        config.augment = !noAugment
        config.evalEvery = evalEvery
        config.logEvery = max(1, logEvery)
        config.checkpointEvery = checkpointEvery
        config.keepCheckpoints = keep
        config.outputDirectory = output
        config.initFrom = initFrom
        config.stopAfter = stopAfter
        config.progress = !json
        if let spec = injectFailure {
            let parts = spec.split(separator: ":").compactMap { Int($0) }
            guard parts.count == 2 else { throw ValidationError("--inject-failure takes RANK:ITERATION") }
            config.injectFailure = (parts[0], parts[1])
        }
        switch resume {
        case nil: config.resume = .none
        case "auto"?:
            guard output != nil else { throw ValidationError("--resume auto looks in --output; give --output") }
            config.resume = .auto
        case let path?: config.resume = .file(path)
        }

        let result: TrainingResult
        if replicas > 1 {
            guard communicator.size == 1 else { throw ValidationError("--replicas is for runs without mpirun") }
            result = try InProcessReplicas.train(replicas: replicas, config: config, train: train, test: test,
                                                 normalization: normalization, logger: logger)
        } else {
            let trainer = try Trainer(config: config, communicator: communicator, train: train, test: test,
                                      normalization: normalization, logger: logger)
            result = try trainer.run()
        }
        if communicator.rank == 0 {
            report(result, logger: logger)
        }
    }

    func loadData(logger: Logger, rank: Int) throws -> (LabeledImages, LabeledImages?) {
        if let dir = try dataOptions.directory() {
            let train = try CIFAR10.loadTraining(from: dir)
            let test = try CIFAR10.loadTest(from: dir)
            if rank == 0 { logger.info("CIFAR-10 from \(dir): \(train.count) training, \(test.count) test images") }
            return (train, test)
        }
        if rank == 0 && dataOptions.data == "generated" {
            logger.info("training on the generated data set (2,048 training and 512 test images of 10 synthetic classes)")
        } else if rank == 0 {
            logger.notice("no CIFAR-10 found (give --data DIR, or unpack it: shared/data/cifar10/unpack.sh .data/cifar10); training on a small generated data set instead (2,048 training and 512 test images of 10 synthetic classes)")
        }
        return (SyntheticData.make(count: 2048, seed: 1), SyntheticData.make(count: 512, seed: 2))
    }

    func report(_ result: TrainingResult, logger: Logger) {
        if json {
            var object: [String: Any] = [
                "iterations": result.iterations, "images_per_s": result.imagesPerSecond,
                "wall_seconds": result.wallSeconds, "replicas_identical": result.replicasIdentical,
                "first_losses": Array(result.losses.prefix(20)), "final_loss": result.losses.last ?? Double.nan,
            ]
            if let a = result.testAccuracy { object["test_accuracy"] = a }
            if let l = result.testLoss { object["test_loss"] = l }
            if let e = result.trainError { object["train_error"] = e }
            if let c = result.finalCheckpoint { object["checkpoint"] = c }
            printJSON(object)
        } else {
            var line = "done: \(result.iterations) iterations in \(String(format: "%.1f", result.wallSeconds)) s, \(String(format: "%.1f", result.imagesPerSecond)) images/s"
            if let a = result.testAccuracy { line += String(format: ", test accuracy %.2f%%", a * 100) }
            logger.info("\(line)")
        }
    }
}
