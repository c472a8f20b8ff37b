import Foundation

extension Trainer {
    /// Fresh weights, a checkpoint's weights, or a whole resumed state; replicas synchronised
    /// from rank 0.
    func start() throws -> TrainingState {
        if let directory = config.outputDirectory {
            // One job per run directory: taken before anything there is read or replaced.
            try communicator.onCoordinator { runLock = try RunDirectoryLock(directory: directory) }
        }
        if config.resume == .none, let directory = config.outputDirectory {
            try communicator.onCoordinator { try RunDirectory(path: directory).prepareNewRun(overwrite: config.overwriteOutput) }
        }
        var state = TrainingState(warmup: WarmupState(done: config.schedule.warmup == nil), seed: config.seed)
        network.initialize(seed: config.seed)
        if config.zeroInitResidual { network.zeroResidualBranches() }
        if let resumed = try checkpointToResume() {
            state = try TrainingState(resuming: resumed, config: config)
            if let written = resumed.run?.batchesPerEpoch, written != batches.batchesPerEpoch {
                throw ResNetError(
                    .mismatchedCheckpoint,
                    "\(resumed.path) was trained at \(written) batches an epoch, this run has \(batches.batchesPerEpoch) (\(batches.source.count) images a pass at batch \(config.globalBatch)): resume with the data and --drop-last it was trained with"
                )
            }
            try resumed.apply(to: network, optimizer: true)
            if isCoordinator {
                let ranks = { (n: Int) in "\(n) rank\(n == 1 ? "" : "s")" }
                logger.info(
                    "resuming from \(resumed.path) at iteration \(state.iteration) (written by \(ranks(resumed.run!.worldSize))) on \(ranks(communicator.size))"
                )
            }
        } else if let path = config.initFrom {
            try Checkpoint.load(path, expected: config.architecture).apply(to: network, optimizer: false)
            if isCoordinator { logger.info("initialised weights from \(path)") }
        }
        // Rank 0's replica is the truth: broadcast parameters, buffers and momentum.
        let store = network.store
        try communicator.broadcast(UnsafeMutableRawBufferPointer(store.valueBuffer), root: 0)
        try communicator.broadcast(UnsafeMutableRawBufferPointer(store.runningStatistics), root: 0)
        try communicator.broadcast(UnsafeMutableRawBufferPointer(store.momentumBuffer), root: 0)
        let hosts = try gatherHostnames()
        if let directory = config.outputDirectory {
            let resumedAt = state.iteration > 0 ? state.iteration : nil
            try communicator.onCoordinator {
                try RunDirectory(path: directory).writeConfiguration(
                    try configurationJSON(startIteration: state.iteration, hosts: hosts),
                    resumedAt: resumedAt)
            }
        }
        return state
    }

    func checkpointToResume() throws -> Checkpoint.Loaded? {
        switch config.resume {
        case .none: return nil
        case .file(let path): return try Checkpoint.load(path, expected: config.architecture)
        case .auto:
            guard let directory = config.outputDirectory else { return nil }
            let found = try CheckpointDirectory(path: directory).latestGood(expected: config.architecture) { message in
                if isCoordinator { logger.warning("\(message)") }
            }
            if found == nil && isCoordinator {
                logger.notice("--resume auto: no checkpoint in \(directory); starting a new run there")
            }
            return found
        }
    }

    /// The run record a checkpoint of `state` carries.
    func checkpointRecord(_ state: TrainingState) throws -> CheckpointMetadata {
        var record = CheckpointMetadata(
            iteration: state.iteration, seed: state.seed, warmupDone: state.warmup.done,
            warmupWindowErrorSum: state.warmup.windowErrorSum, warmupWindowSteps: state.warmup.windowSteps,
            globalBatch: config.globalBatch,
            worldSize: communicator.size, batchesPerEpoch: batches.batchesPerEpoch, syncBatchNorm: config.syncBatchNorm,
            learningRate: config.schedule.learningRate(iteration: state.iteration, warmupDone: state.warmup.done),
            schedule: try JSON.encoded(config.schedule), optimizer: try JSON.encoded(config.optimizer))
        record.evaluationPending = state.evaluationPending
        record.labelSmoothing = config.labelSmoothing
        return record
    }
}
