import ArgumentParser
import ResNet

/// Batch, length, learning-rate schedule and optimizer: the training recipe.
struct ScheduleOptions: ParsableArguments {
    @Option(
        help:
            "Preset: 'paper' = batch 128, lr 0.1 /10 at 32k and 48k, stop at 64k, warm-up at 0.01 for 110/1202, per-pixel mean. With --epochs or --iterations the paper's shape is kept: /10 at 50% and 75% of the run. 'paper-imagenet' = batch 256, lr 0.1 /10 at 150k and 300k (epochs 30 and 60 of ImageNet's 1.28M images: where the paper's error plateaus, as fb.resnet.torch divides), stop at 600k, option A shortcuts unless --shortcut says otherwise (Figure 4); with --epochs or --iterations /10 at 25% and 50%. Flags given explicitly (e.g. --milestones, --batch-size) still win."
    )
    var recipe: Recipe?

    @Option(
        name: .customLong("batch-size"), parsing: .unconditional,
        help: "Global batch size (all ranks together). (default: 128; 256 for --recipe paper-imagenet)")
    var batchSizeFlag: Int?

    /// The global batch: the flag, else the recipe's.
    var batchSize: Int { batchSizeFlag ?? (recipe == .paperImageNet ? 256 : 128) }

    @Option(parsing: .unconditional, help: "Iterations to train (default: the schedule's, 64k for paper).")
    var iterations: Int?

    @Option(
        parsing: .unconditional,
        help: "Epochs to train (instead of --iterations); an epoch is ceil(train images / batch) iterations.")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Base learning rate (at --reference-batch when --lr-scaling linear).")
    var lr = 0.1

    @Option(
        name: .customLong("lr-scaling"),
        help: "none, or linear: lr = base lr x global batch / reference batch (Goyal et al. 2017).")
    var lrScaling: LearningRateScaling = .none

    @Option(
        name: .customLong("reference-batch"), parsing: .unconditional,
        help: "The batch at which --lr holds, for --lr-scaling linear.")
    var referenceBatch = 128

    @Option(
        name: .customLong("warmup-epochs"), parsing: .unconditional,
        help:
            "Ramp the lr linearly, every iteration, over the first K epochs (fractions allowed; 0: none): with --lr-scaling linear from the base lr to the scaled lr (Goyal et al.), else from lr/K-iterations up to lr (LARS's warm-up)."
    )
    var warmupEpochs = 0.0

    @Option(
        help:
            "paper (/10 at 32k and 48k), scaled (/10 at 50% and 75% of the run), constant, or a decay to 0 at the last iteration: poly (power 2, LARS's) or cosine (after any --warmup-epochs ramp)."
    )
    var schedule: ScheduleKind = .paper

    @Option(
        help:
            "Where the lr is divided by 10, comma-separated: iterations, or epochs with a suffix e (e.g. 15e,23e; epochs stay epochs at any batch). Overrides --schedule."
    )
    var milestones: String?

    @Option(
        help:
            "The paper's warm-up at lr 0.01 until an epoch's training error < 80%: auto (ResNet-110 and deeper), on, off."
    )
    var warmup: WarmupMode = .auto

    @Option(parsing: .unconditional, help: "SGD momentum, in [0, 1).")
    var momentum: Float = 0.9

    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "L2 weight decay (every parameter for sgd; weights only for lars).")
    var weightDecay: Float = 1e-4

    @Option(
        help:
            "sgd (momentum, PyTorch's) or lars (You et al. 2017: a rate per weight tensor, trust coefficient x ||w|| / (||g|| + weight decay x ||w||); batch-norm parameters and biases keep the plain rate and get no weight decay)."
    )
    var optimizer: OptimizerKind = .sgd

    @Option(
        name: .customLong("trust-coefficient"), parsing: .unconditional,
        help: "LARS's trust coefficient (eta). (default: 0.001, the paper's)")
    var trustCoefficient: Float?

    @Option(
        name: .customLong("label-smoothing"), parsing: .unconditional,
        help:
            "Label smoothing epsilon in [0, 1): the loss's target puts 1 - epsilon on the label and spreads epsilon over all classes (Szegedy et al. 2016; MLPerf's LARS recipe uses 0.1). 0 is the paper's one-hot target.")
    var labelSmoothing: Float = 0

    enum Recipe: String, ExpressibleByArgument, CaseIterable {
        case paper
        case paperImageNet = "paper-imagenet"
    }
    enum ScheduleKind: String, ExpressibleByArgument, CaseIterable { case paper, scaled, constant, poly, cosine }
    enum OptimizerKind: String, ExpressibleByArgument, CaseIterable { case sgd, lars }
    enum WarmupMode: String, ExpressibleByArgument, CaseIterable { case auto, on, off }
    enum LearningRateScaling: String, ExpressibleByArgument, CaseIterable { case none, linear }

    /// The longest run accepted, in iterations: 100 million, 166 times the paper's ImageNet
    /// schedule. Longer is a typo, whose counts would overflow (`--epochs 9223372036854775807`
    /// trapped) or whose per-step losses would not fit in memory (`--iterations 1000000000000`
    /// asked the allocator for 8 TB).
    static let maxIterations = 100_000_000
    /// The largest global batch accepted: counts of images stay 32-bit (`--batch-size
    /// 9223372036854775807` overflowed counting the batches of an epoch); far smaller batches are
    /// refused by the activation-memory check.
    static let maxBatchSize = Int(Int32.max)

    /// `--batch-size` of train and bench.
    static func requireBatchSize(_ batchSize: Int) throws {
        try require(
            (1...maxBatchSize).contains(batchSize),
            "--batch-size must be in 1...\(maxBatchSize.formatted()), got \(batchSize)")
    }

    func validate() throws {
        try Self.requireBatchSize(batchSize)
        try require(iterations == nil || epochs == nil, "give --iterations or --epochs, not both")
        try require(
            (1...Self.maxIterations).contains(iterations ?? 1),
            "--iterations must be in 1...\(Self.maxIterations.formatted()), got \(iterations!)")
        try require(
            (1...Self.maxIterations).contains(epochs ?? 1),
            "--epochs must be in 1...\(Self.maxIterations.formatted()), got \(epochs!)")
        try require(lr.isFinite && lr >= 0, "--lr must be a finite number >= 0, got \(lr)")
        try require(referenceBatch >= 1, "--reference-batch must be at least 1, got \(referenceBatch)")
        try require(
            warmupEpochs.isFinite && warmupEpochs >= 0 && warmupEpochs <= Double(Self.maxIterations),
            "--warmup-epochs must be a number in 0...\(Self.maxIterations.formatted()), got \(warmupEpochs)")
        try require(momentum.isFinite && momentum >= 0 && momentum < 1, "--momentum must be in [0, 1), got \(momentum)")
        try require(
            weightDecay.isFinite && weightDecay >= 0, "--weight-decay must be a finite number >= 0, got \(weightDecay)")
        if let milestones { _ = try Self.parseMilestones(milestones, batchesPerEpoch: 1) }
        try require(
            milestones == nil || (schedule != .poly && schedule != .cosine),
            "--milestones and --schedule \(schedule.rawValue) do not go together: the decay sets the rate to the end")
        try require(
            recipe == nil || schedule == .paper,
            "--schedule \(schedule.rawValue) and --recipe \(recipe?.rawValue ?? "") do not go together: the recipe sets the schedule (--milestones moves its steps)")
        try require(
            trustCoefficient == nil || optimizer == .lars, "--trust-coefficient is for --optimizer lars")
        try require(
            labelSmoothing.isFinite && labelSmoothing >= 0 && labelSmoothing < 1,
            "--label-smoothing must be in [0, 1), got \(labelSmoothing)")
        if let trustCoefficient {
            try require(
                trustCoefficient.isFinite && trustCoefficient > 0,
                "--trust-coefficient must be a finite number > 0, got \(trustCoefficient)")
        }
    }

    /// The schedule for a training set of `batchesPerEpoch` batches and `architecture`.
    func makeSchedule(batchesPerEpoch: Int, architecture: Architecture) throws -> LearningRateSchedule {
        let length = try iterations ?? epochs.map { epochs in
            let (product, overflow) = epochs.multipliedReportingOverflow(by: batchesPerEpoch)
            guard !overflow && product <= Self.maxIterations else {
                throw ResNetError(
                    .usage,
                    "--epochs \(epochs) of \(batchesPerEpoch.formatted()) iterations is more than \(Self.maxIterations.formatted()) iterations"
                )
            }
            return product
        }
        let useWarmup = warmup == .on || (warmup == .auto && architecture.depth >= 110)
        let paperWarmup = useWarmup ? LearningRateSchedule.Warmup(window: batchesPerEpoch) : nil
        let peak = lrScaling == .linear ? lr * Double(batchSize) / Double(referenceBatch) : lr
        var result: LearningRateSchedule
        if recipe == .paperImageNet {
            guard architecture.isImageNet else {
                throw ResNetError(.usage, "--recipe paper-imagenet is for the ImageNet networks (resnet18, resnet34, plain18, plain34)")
            }
            let total = length ?? 600_000
            result = .init(
                base: peak, milestones: length == nil ? [150_000, 300_000] : [total / 4, total / 2], iterations: total,
                warmup: nil)
        } else {
            result = makeCIFARSchedule(length: length, peak: peak, paperWarmup: paperWarmup)
        }
        if let milestones { result.milestones = try Self.parseMilestones(milestones, batchesPerEpoch: batchesPerEpoch) }
        if warmupEpochs > 0 {
            // Goyal et al. ramp from the reference batch's rate to the scaled one; without scaling
            // (LARS, as MLPerf's) the ramp climbs from peak/K at the first of its K iterations.
            let ramp = (warmupEpochs * Double(batchesPerEpoch)).rounded()
            guard ramp <= Double(result.iterations) else {
                throw ResNetError(
                    .usage,
                    "--warmup-epochs \(warmupEpochs) (\(Int(ramp).formatted()) iterations) is longer than the run (\(result.iterations.formatted()) iterations)"
                )
            }
            let iterations = max(1, Int(ramp))
            result.ramp = .init(start: lrScaling == .linear ? lr : peak / Double(iterations), iterations: iterations)
        }
        return result
    }

    /// The CIFAR schedules: the paper's, scaled, constant, or a decay, over `length` iterations
    /// (nil: the paper's 64k).
    private func makeCIFARSchedule(
        length: Int?, peak: Double, paperWarmup: LearningRateSchedule.Warmup?
    ) -> LearningRateSchedule {
        var result: LearningRateSchedule
        switch recipe == .paper ? .paper : schedule {
        case .paper:
            if let length, recipe == .paper {
                // The paper's shape compressed to the requested length: /10 at 50% and 75%, as 32k/48k of 64k.
                result = .scaled(iterations: length, base: peak, warmup: paperWarmup)
            } else {
                result = .paper(warmup: paperWarmup)
                result.base = peak
                if let length { result.iterations = length }
            }
        case .scaled:
            result = .scaled(iterations: length ?? LearningRateSchedule.paperIterations, base: peak, warmup: paperWarmup)
        case .constant:
            result = .init(base: peak, milestones: [], iterations: length ?? LearningRateSchedule.paperIterations, warmup: paperWarmup)
        case .poly, .cosine:
            result = .init(
                base: peak, milestones: [], iterations: length ?? LearningRateSchedule.paperIterations,
                warmup: paperWarmup, decay: schedule == .poly ? .polynomial : .cosine)
        }
        return result
    }

    func makeOptimizer() -> SGD {
        SGD(
            momentum: momentum, weightDecay: weightDecay,
            trustCoefficient: optimizer == .lars ? trustCoefficient ?? SGD.defaultTrustCoefficient : nil)
    }

    /// `15e,23e` or `32000,48000`: iterations, sorted.
    static func parseMilestones(_ text: String, batchesPerEpoch: Int) throws -> [Int] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { item -> Int in
            let entry = item.trimmingCharacters(in: .whitespaces)
            if entry.hasSuffix("e"), let epochs = Double(entry.dropLast()), epochs.isFinite, epochs >= 0, epochs < 1e9 {
                return Int((epochs * Double(batchesPerEpoch)).rounded())
            }
            guard let iteration = Int(entry), iteration >= 0 else {
                throw ValidationError(
                    "--milestones: '\(entry)' is not an iteration count >= 0 or a number of epochs like 15e")
            }
            return iteration
        }.sorted()
    }
}

/// Throws a `ValidationError` with `message` unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ValidationError(message()) }
}
