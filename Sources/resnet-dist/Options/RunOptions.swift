import ArgumentParser
import ResNet

/// Where a run writes, how often, and how it resumes.
struct RunOptions: ParsableArguments {
    @Option(
        help:
            "Directory for metrics.jsonl, run-config.json and checkpoints (*.safetensors). A directory that holds another run is refused unless --resume or --overwrite."
    )
    var output: String?

    @Flag(help: "Replace the run in --output (its checkpoints and metrics are deleted) instead of refusing.")
    var overwrite = false

    @Option(
        help:
            "Resume: auto (the newest good checkpoint in --output; a new run there if it has none) or a checkpoint file."
    )
    var resume: String?

    @Option(
        name: .customLong("checkpoint-every"), parsing: .unconditional,
        help: "Checkpoint every N iterations (default: every epoch; always at the end and on SIGTERM/SIGINT/SIGUSR1).")
    var checkpointEvery: Int?

    @Option(parsing: .unconditional, help: "Checkpoints to keep.")
    var keep = 3

    @Option(
        name: .customLong("eval-every"), parsing: .unconditional,
        help: "Evaluate every N iterations (default: every epoch, and at the end).")
    var evalEvery: Int?

    @Option(name: .customLong("log-every"), parsing: .unconditional, help: "Log and write metrics every N iterations.")
    var logEvery = 20

    @Option(
        name: .customLong("init-from"),
        help: "Start from the weights of a checkpoint or PyTorch state dict (safetensors).")
    var initFrom: String?

    @Option(
        name: .customLong("stop-after"), parsing: .unconditional,
        help: "Stop after this iteration with a checkpoint, as a job killed there would (for resume tests).")
    var stopAfter: Int?

    @Option(
        name: .customLong("max-loss"), parsing: .unconditional,
        help:
            "A step whose loss is above this (or not finite) stops the run with an error; the last good checkpoint stays."
    )
    var maxLoss = 100.0

    @Flag(name: .customLong("allow-nonfinite"), help: "Keep training through a NaN, infinite or exploding loss.")
    var allowNonfinite = false

    @Option(name: .customLong("inject-failure"), help: .hidden)
    var injectFailure: String?

    func validate() throws {
        try require(keep >= 1, "--keep must be at least 1, got \(keep)")
        try require((checkpointEvery ?? 1) >= 1, "--checkpoint-every must be at least 1, got \(checkpointEvery!)")
        try require((evalEvery ?? 1) >= 1, "--eval-every must be at least 1, got \(evalEvery!)")
        try require(logEvery >= 1, "--log-every must be at least 1, got \(logEvery)")
        try require((stopAfter ?? 1) >= 1, "--stop-after must be at least 1, got \(stopAfter!)")
        try require(maxLoss.isFinite && maxLoss > 0, "--max-loss must be a finite number > 0, got \(maxLoss)")
        try require(resume != "auto" || output != nil, "--resume auto looks in --output; give --output")
        try require(!(overwrite && resume != nil), "--overwrite starts a new run; it does not go with --resume")
        try require(injectFailure == nil || injectedFailure != nil, "--inject-failure takes RANK:ITERATION")
    }

    var resumeChoice: TrainingConfiguration.Resume {
        switch resume {
        case nil: return .none
        case "auto"?: return .auto
        case let path?: return .file(path)
        }
    }

    var injectedFailure: (rank: Int, iteration: Int)? {
        guard let parts = injectFailure?.split(separator: ":").compactMap({ Int($0) }), parts.count == 2 else {
            return nil
        }
        return (parts[0], parts[1])
    }
}
