import ArgumentParser
import Distributed
import Foundation
import Kernels
import Logging
import ResNet

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a CIFAR ResNet or plain net (under mpirun: data-parallel over the ranks).")

    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Data") var dataOptions: DataOptions
    @OptionGroup(title: "Recipe") var recipe: ScheduleOptions
    @OptionGroup(title: "Run") var runOptions: RunOptions
    @OptionGroup(title: "Distribution") var distribution: DistributionOptions

    @Option(parsing: .unconditional, help: "Seed for initialisation, data order and augmentation.")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: ArgumentHelp(ThreadCount.help))
    var threads: Int?


    @Option(
        name: .customLong("decode-threads"), parsing: .unconditional,
        help: "Image folders: threads per rank that decode and augment the next batches while the step runs (0: in the step's thread).")
    var decodeThreads = 1

    @Flag(
        name: .customLong("zero-init-residual"),
        help: "Start every residual block's last batch-norm weight at 0, so each block starts as its shortcut (Goyal et al. 2017's zero γ).")
    var zeroInitResidual = false

    @Flag(
        name: .customLong("drop-last"),
        help: "Every step a full global batch: each epoch leaves out the last (training images mod batch) of its order, as PyTorch's drop_last (at batch 8,192 on CIFAR-10: 6 steps an epoch instead of 6 and one of 848 images).")
    var dropLast = false

    @Flag(name: .customLong("no-augment"), help: "No pad/crop/flip augmentation (image folders: the centre crop).")
    var noAugment = false

    @Option(help: "The crop's 4-pixel border: black (pixels, normalised like the rest) or zero (after normalisation).")
    var padding: BatchLoader.Padding = .black

    @Flag(
        name: .customLong("validation-split"),
        help: "Train on the first 45k training images and evaluate on the last 5k (the paper's 45k/5k split).")
    var validationSplit = false

    @Option(
        name: .customLong("train-subset"), parsing: .unconditional,
        help: "Use only the first N training images. (default: all of them)")
    var trainSubset: Int?

    @Option(
        parsing: .unconditional,
        help: "In-process replicas on threads (no launcher): the distributed path in one process.")
    var replicas = 1

    @Flag(help: "Run the self-test instead (the same as `resnet-dist selftest`).")
    var test = false

    @Flag(help: "Print the result as one JSON object on standard output.")
    var json = false

    func validate() throws {
        try require(replicas >= 1, "--replicas must be at least 1, got \(replicas)")
        try require(
            replicas <= ThreadCount.mostPerProcess,
            "--replicas \(replicas) is more than one process runs (at most \(ThreadCount.mostPerProcess) threads)")
        try ThreadCount.validate(threads, replicas: replicas)
        try require(
            (0...ThreadCount.mostPerProcess).contains(decodeThreads),
            "--decode-threads must be in 0...\(ThreadCount.mostPerProcess), got \(decodeThreads)")
        try require((trainSubset ?? 1) >= 1, "--train-subset must be at least 1, got \(trainSubset!)")
        if zeroInitResidual, let architecture = try? model.architecture(), !architecture.isResidual {
            throw ValidationError("--zero-init-residual is for residual networks; \(architecture.name) has no shortcuts")
        }
    }

    func run() throws {
        if test {
            if !SelfTestCommand.run(threads: threads ?? 1) { throw ExitCode.failure }
            return
        }
        try withCommunicator { communicator in
            let logger = makeLogger(rank: communicator.rank)
            let (config, train, test, normalization) = try makeRun(communicator: communicator, logger: logger)
            let result: TrainingResult
            if replicas > 1 {
                guard communicator.size == 1 else { throw ResNetError(.usage, "--replicas is for runs without mpirun") }
                result = try InProcessReplicas.train(
                    replicas: replicas, config: config, train: train, test: test,
                    normalization: normalization, logger: logger)
            } else {
                let trainer = try Trainer(
                    config: config, communicator: communicator, train: train, test: test,
                    normalization: normalization, logger: logger)
                trainer.handleStopSignals()
                result = try trainer.run()
            }
            if let folder = train as? ImageFolderLoader, folder.skipped.value > 0 {
                logger.warning(
                    "rank \(communicator.rank) replaced \(folder.skipped.value) images that could not be decoded by the next ones (--skip-bad-images)")
            }
            if communicator.isCoordinator {
                report(
                    result, onGeneratedData: config.runRecord["data"] == "generated",
                    isImageFolder: train is ImageFolderLoader, logger: logger)
            }
            if result.stoppedBySignal != nil {
                communicator.finalize()
                Foundation.exit(ExitStatus.stoppedBySignal)
            }
        }
    }

    /// The configuration, data and normalisation the flags describe.
    func makeRun(
        communicator: Communicator, logger: Logger
    )
        throws -> (TrainingConfiguration, any BatchSource, (any BatchSource)?, Normalization)
    {
        // Figure 4 compares plain and residual nets of equal parameters: option A.
        var architecture = try model.architecture(defaultShortcut: recipe.recipe == .paperImageNet ? .A : nil)
        let threadChoice = ThreadCount.choose(threads, replicasInProcess: replicas)
        let data = try loadData(logger: logger, rank: communicator.rank)
        let normalization: Normalization
        let trainCount: Int
        switch data {
        case .cifar(_, let train, _):
            normalization = try trainingNormalization(train: train)
            trainCount = train.count
        case .folder(let train, _):
            architecture = try architecture.with(classes: train.classes.count)
            normalization = try dataOptions.folderNormalization(train: train, threads: threadChoice.count)
            trainCount = train.count
        }
        if dropLast && trainCount < recipe.batchSize {
            throw ResNetError(
                .usage, "--drop-last leaves no full batch of \(recipe.batchSize) in \(trainCount) training images")
        }
        let batchesPerEpoch =
            dropLast ? trainCount / recipe.batchSize : (trainCount + recipe.batchSize - 1) / recipe.batchSize
        var config = TrainingConfiguration(
            architecture: architecture,
            schedule: try recipe.makeSchedule(
                batchesPerEpoch: batchesPerEpoch,
                architecture: architecture))
        config.globalBatch = recipe.batchSize
        config.optimizer = recipe.makeOptimizer()
        config.labelSmoothing = recipe.labelSmoothing
        config.seed = seed
        config.zeroInitResidual = zeroInitResidual
        config.threads = threadChoice.count
        config.threadsReason = threadChoice.reason
        config.syncBatchNorm = distribution.syncBN
        config.bucketMiB = distribution.bucketMB
        config.batchNormGroup = distribution.bnGroup
        config.bfloat16Gradients = distribution.allreducePrecision == .bf16
        config.augment = !noAugment
        config.dropLast = dropLast
        config.padding = padding
        config.evalEvery = runOptions.evalEvery
        config.logEvery = runOptions.logEvery
        config.checkpointEvery = runOptions.checkpointEvery
        config.keepCheckpoints = runOptions.keep
        config.outputDirectory = runOptions.output
        config.overwriteOutput = runOptions.overwrite
        config.resume = runOptions.resumeChoice
        config.initFrom = runOptions.initFrom
        config.stopAfter = runOptions.stopAfter
        config.divergenceLoss = runOptions.allowNonfinite ? nil : runOptions.maxLoss
        config.injectFailure = runOptions.injectedFailure
        config.progress = !json
        config.runRecord = [
            "version": ResNetDist.version, "command": CommandLine.arguments.joined(separator: " "),
            "data": data.name, "normalization": normalization.kind,
        ]
        let world = replicas > 1 ? replicas : communicator.size
        switch data {
        case .cifar(_, let train, let test):
            let (trainSource, testSource) = Trainer.sources(
                config: config, worldSize: world, train: train, test: test, normalization: normalization)
            return (config, trainSource, testSource, normalization)
        case .folder(let train, let val):
            let capacity = Trainer.largestShard(globalBatch: config.globalBatch, worldSize: world)
            let trainSource = ImageFolderLoader(
                folder: train, globalBatch: config.globalBatch, seed: seed,
                views: noAugment ? .center : .training, normalization: normalization,
                skipBadImages: dataOptions.skipBadImages)
            config.decodeThreads = decodeThreads
            let valSource = ImageFolderLoader(
                folder: val, globalBatch: capacity, seed: 0, views: .center, normalization: normalization,
                skipBadImages: dataOptions.skipBadImages)
            return (config, trainSource, valSource, normalization)
        }
    }

    /// A run's data: CIFAR-10 (or the generated set) in memory, or an image folder read as it trains.
    enum TrainingData {
        case cifar(name: String, train: LabeledImages, test: LabeledImages?)
        case folder(train: ImageFolder, val: ImageFolder)

        var name: String {
            switch self {
            case .cifar(let name, _, _): name
            case .folder(let train, _): (train.root as NSString).deletingLastPathComponent
            }
        }
    }

    /// The training and test sets the flags ask for.
    func loadData(logger: Logger, rank: Int) throws -> TrainingData {
        if case .imageFolder(let root) = try dataOptions.location() {
            guard trainSubset == nil, !validationSplit else {
                throw ResNetError(
                    .usage, "--train-subset and --validation-split are for CIFAR-10; an image folder has its own val/")
            }
            let (train, val) = try dataOptions.imageFolders(root)
            if rank == 0 {
                logger.info(
                    "image folder \(root): \(train.count) training images in \(train.classes.count) classes, \(val.count) validation images (JPEG/PNG, decoded with libjpeg-turbo/libpng)"
                )
            }
            return .folder(train: train, val: val)
        }
        var source: String
        var train: LabeledImages
        var test: LabeledImages?
        if let directory = try dataOptions.directory() {
            (source, train, test) = (
                directory, try CIFAR10.loadTraining(from: directory), try CIFAR10.loadTest(from: directory)
            )
            if rank == 0 {
                logger.info("CIFAR-10 from \(directory): \(train.count) training, \(test!.count) test images")
            }
        } else {
            if rank == 0 && dataOptions.data == "generated" {
                logger.info(
                    "training on the generated data set (2,048 training and 512 test images of 10 synthetic classes)")
            } else if rank == 0 {
                logger.notice(
                    "no CIFAR-10 found (give --data DIR, or download it: launch/get-cifar10.sh); training on a small generated data set instead (2,048 training and 512 test images of 10 synthetic classes)"
                )
            }
            (source, train, test) = (
                "generated", SyntheticData.make(count: 2048, seed: 1), SyntheticData.make(count: 512, seed: 2)
            )
        }
        if let n = trainSubset {
            guard n <= train.count else {
                throw ResNetError(.usage, "--train-subset must be 1...\(train.count), got \(n)")
            }
            train = train.subset(0..<n)
        }
        if validationSplit {
            guard train.count > 5000 else {
                throw ResNetError(.usage, "--validation-split needs more than 5,000 training images")
            }
            test = train.subset((train.count - 5000)..<train.count)
            train = train.subset(0..<(train.count - 5000))
        }
        return .cifar(name: source, train: train, test: test)
    }

    /// The flags' normalisation; per-pixel mean by default (and for --recipe paper).
    func trainingNormalization(train: LabeledImages) throws -> Normalization {
        do {
            return try dataOptions.requestedNormalization(train: train) ?? Normalization.perPixelMean(of: train)
        } catch let error as ValidationError {
            throw ResNetError(.usage, error.message)
        }
    }

    func report(_ result: TrainingResult, onGeneratedData: Bool, isImageFolder: Bool, logger: Logger) {
        if json {
            var object: [String: Any] = [
                "iterations": result.iterations, "images_per_s": result.imagesPerSecond,
                "training_images_per_s": result.trainingImagesPerSecond,
                "wall_seconds": result.wallSeconds, "replicas_identical": result.replicasIdentical,
                "first_losses": Array(result.losses.prefix(20)), "final_loss": result.losses.last ?? Double.nan,
            ]
            if let a = result.testAccuracy { object["test_accuracy"] = a }
            if let l = result.testLoss { object["test_loss"] = l }
            if let e = result.trainError { object["train_error"] = e }
            if let c = result.finalCheckpoint { object["checkpoint"] = c }
            object["input_wait_s"] = result.inputWaitSeconds
            if let s = result.stoppedBySignal { object["stopped_by"] = StopSignals.name(s) }
            printJSON(object)
        } else {
            // A run stopped by a signal says so here too: "done:" is for a run that reached its end.
            let ending = result.stoppedBySignal.map { "stopped by \(StopSignals.name($0))" } ?? "done"
            var line =
                "\(ending): \(result.iterations) iterations; training \(String(format: "%.1f", result.trainingImagesPerSecond)) images/s; wall \(String(format: "%.1f", result.wallSeconds)) s with evaluation and checkpoints"
            if let e = result.trainError { line += String(format: "; training error %.2f%% (last window)", e * 100) }
            if let a = result.testAccuracy { line += String(format: "; test accuracy %.2f%%", a * 100) }
            if isImageFolder { line += String(format: "; input wait %.1f s", result.inputWaitSeconds) }
            logger.info("\(line)")
            if onGeneratedData, let a = result.testAccuracy, a < 0.5 {
                // What a newcomer's first run on the generated set shows, against chance.
                logger.notice(
                    "chance is 10% on the 10 generated classes. In the first few dozen steps the test accuracy lags the training error: testing uses batch norm's running statistics, which trail fast-changing weights. Train on (--epochs 5: 80 steps) and it reaches 100%."
                )
            }
        }
    }
}
