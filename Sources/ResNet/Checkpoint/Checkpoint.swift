import Foundation

/// Where a run stands: everything besides the tensors that an exact resume needs. Data order and
/// augmentation are functions of (seed, epoch, position), so the iteration fixes them.
public struct TrainingState: Sendable, Equatable {
    /// Iterations completed.
    public var iteration: Int
    public var warmup: WarmupState
    public var seed: UInt64

    public init(iteration: Int = 0, warmup: WarmupState, seed: UInt64) {
        self.iteration = iteration
        self.warmup = warmup
        self.seed = seed
    }
}

/// Model checkpoints as safetensors with torchvision names (`conv1.weight`, `layer1.0.bn1.running_mean`,
/// `fc.bias`, ...), momentum as `optimizer.momentum.<name>`, the input normalisation as
/// `normalization.mean` / `normalization.std`, and the run's state in `__metadata__`.
public enum Checkpoint {
    public static let formatVersion = "1"

    /// Everything `train` puts in the metadata besides the state.
    public struct RunInfo: Sendable {
        public var globalBatch: Int
        public var worldSize: Int
        public var schedule: LearningRateSchedule
        public var batchesPerEpoch: Int
        public var syncBatchNorm: Bool
        public var optimizer: SGD
        public init(globalBatch: Int, worldSize: Int, schedule: LearningRateSchedule, batchesPerEpoch: Int,
                    syncBatchNorm: Bool, optimizer: SGD) {
            self.globalBatch = globalBatch
            self.worldSize = worldSize
            self.schedule = schedule
            self.batchesPerEpoch = batchesPerEpoch
            self.syncBatchNorm = syncBatchNorm
            self.optimizer = optimizer
        }
    }

    /// Writes `network` (and its optimizer state) with `normalization`, `state` and `run` atomically to `path`.
    public static func save(_ network: Network, normalization: Normalization, state: TrainingState?,
                            run: RunInfo?, to path: String) throws {
        let store = network.store
        var tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] = []
        // torchvision's state_dict order: parameters and buffers interleaved per layer.
        for name in orderLikeStateDict(store) {
            let (spec, isParameter) = store.spec(named: name)!
            let base = isParameter ? store.values : store.bufferValues
            tensors.append((name, spec.shape, UnsafeBufferPointer(start: base + spec.offset, count: spec.count)))
        }
        if state != nil {
            for spec in store.parameters {
                tensors.append(("optimizer.momentum.\(spec.name)", spec.shape,
                                UnsafeBufferPointer(start: store.momentum + spec.offset, count: spec.count)))
            }
        }
        var normMean: [Float], normStd: [Float] = []
        switch normalization {
        case .perPixelMean(let mean): normMean = mean
        case .perChannel(let mean, let std): normMean = mean; normStd = std
        }
        try normMean.withUnsafeBufferPointer { mean in
            try normStd.withUnsafeBufferPointer { std in
                var all = tensors
                all.append(("normalization.mean", normStd.isEmpty ? [3, 32, 32] : [3], mean))
                if !normStd.isEmpty { all.append(("normalization.std", [3], std)) }
                var meta: [String: String] = [
                    "format": "resnet-dist",
                    "format_version": formatVersion,
                    "arch": network.architecture.name,
                    "family": network.architecture.family.rawValue,
                    "depth": String(network.architecture.depth),
                    "shortcut": network.architecture.shortcut.rawValue,
                    "classes": String(network.architecture.classes),
                    "normalization": normalization.kind,
                ]
                if let state {
                    meta["iteration"] = String(state.iteration)
                    meta["seed"] = String(state.seed)
                    meta["warmup_done"] = String(state.warmup.done)
                    meta["warmup_smoothed_error_bits"] = String(state.warmup.smoothedError.bitPattern, radix: 16)
                    meta["rng"] = "stateless: SplitMix64 streams of (seed, purpose, epoch, position)"
                }
                if let run, let state {
                    meta["global_batch"] = String(run.globalBatch)
                    meta["world_size"] = String(run.worldSize)
                    meta["batches_per_epoch"] = String(run.batchesPerEpoch)
                    meta["epoch"] = String(state.iteration / run.batchesPerEpoch)
                    meta["batch_in_epoch"] = String(state.iteration % run.batchesPerEpoch)
                    meta["sync_bn"] = String(run.syncBatchNorm)
                    meta["learning_rate"] = String(run.schedule.learningRate(iteration: state.iteration, warmupDone: state.warmup.done))
                    meta["schedule"] = String(decoding: try JSONEncoder().encode(run.schedule), as: UTF8.self)
                    meta["optimizer"] = String(decoding: try JSONEncoder().encode(run.optimizer), as: UTF8.self)
                }
                try SafeTensorsFile.write(all, metadata: meta, to: path)
            }
        }
    }

    static func orderLikeStateDict(_ store: ParameterStore) -> [String] {
        // Group by module prefix (name without the last component), keeping first-seen order of
        // modules, parameters before buffers within a module (as torch's state_dict does).
        var modules: [String] = []
        var members: [String: [String]] = [:]
        for name in store.parameters.map(\.name) + store.buffers.map(\.name) {
            let module = String(name[..<(name.lastIndex(of: ".") ?? name.endIndex)])
            if members[module] == nil { modules.append(module) }
            members[module, default: []].append(name)
        }
        let order = Dictionary(uniqueKeysWithValues: store.parameters.enumerated().map { ($1.name, $0) })
        modules.sort { (order[members[$0]![0]] ?? 0) < (order[members[$1]![0]] ?? 0) }
        return modules.flatMap { members[$0]! }
    }

    /// A read checkpoint, validated.
    public struct Loaded {
        public let file: SafeTensorsFile
        public let architecture: Architecture
        public var path: String { file.path }
        public var metadata: [String: String] { file.metadata }

        /// The run state, when the file is a training checkpoint (not a bare state dict).
        public var state: TrainingState? {
            guard let it = metadata["iteration"].flatMap(Int.init), let seed = metadata["seed"].flatMap(UInt64.init) else { return nil }
            let done = metadata["warmup_done"] == "true"
            let bits = metadata["warmup_smoothed_error_bits"].flatMap { UInt64($0, radix: 16) }
            return TrainingState(iteration: it, warmup: WarmupState(done: done, smoothedError: bits.map(Double.init(bitPattern:)) ?? 0.9), seed: seed)
        }

        public var globalBatch: Int? { metadata["global_batch"].flatMap(Int.init) }
        /// The learning-rate schedule the run was trained with (nil in files that do not record it).
        public var schedule: LearningRateSchedule? {
            metadata["schedule"].flatMap { try? JSONDecoder().decode(LearningRateSchedule.self, from: Data($0.utf8)) }
        }
        /// Momentum and weight decay of the run (nil in files that do not record them).
        public var optimizer: SGD? {
            metadata["optimizer"].flatMap { try? JSONDecoder().decode(SGD.self, from: Data($0.utf8)) }
        }
        public var worldSize: Int? { metadata["world_size"].flatMap(Int.init) }

        /// The normalisation stored with the model, if any.
        public var normalization: Normalization? {
            guard let mean = file.tensors["normalization.mean"] else { return nil }
            var m = [Float](repeating: 0, count: mean.shape.reduce(1, *))
            guard (try? m.withUnsafeMutableBufferPointer { try file.read("normalization.mean", shape: mean.shape, into: $0.baseAddress!) }) != nil else { return nil }
            if let std = file.tensors["normalization.std"] {
                var s = [Float](repeating: 0, count: std.shape.reduce(1, *))
                guard (try? s.withUnsafeMutableBufferPointer { try file.read("normalization.std", shape: std.shape, into: $0.baseAddress!) }) != nil else { return nil }
                return .perChannel(mean: m, std: s)
            }
            return m.count == LabeledImages.imageBytes ? .perPixelMean(mean: m) : nil
        }

        /// Copies model tensors (and, with `optimizer`, the momentum) into `network`. Every model
        /// tensor must be present with its shape; extra keys (e.g. `num_batches_tracked`) are ignored.
        public func apply(to network: Network, optimizer: Bool) throws {
            let store = network.store
            for spec in store.parameters {
                try file.read(spec.name, shape: spec.shape, into: store.values + spec.offset)
            }
            for spec in store.buffers {
                try file.read(spec.name, shape: spec.shape, into: store.bufferValues + spec.offset)
            }
            if optimizer {
                for spec in store.parameters {
                    try file.read("optimizer.momentum.\(spec.name)", shape: spec.shape, into: store.momentum + spec.offset)
                }
            } else {
                store.momentum.update(repeating: 0, count: store.parameterCount)
            }
        }
    }

    /// Reads and validates `path`. The architecture comes from the metadata, or, for a bare
    /// state dict (e.g. written by PyTorch), from `expected`; a mismatch is an error.
    public static func load(_ path: String, expected: Architecture? = nil) throws -> Loaded {
        let file = try SafeTensorsFile(path: path)
        let meta = file.metadata
        var arch: Architecture
        if let name = meta["arch"], let shortcut = meta["shortcut"].flatMap(ShortcutOption.init(rawValue:)) {
            do { arch = try Architecture.parse(name, shortcut: shortcut) } catch {
                throw CheckpointError("\(path): unknown architecture '\(name)' in metadata")
            }
            if let expected, expected != arch {
                throw CheckpointError("\(path): checkpoint is \(arch), not \(expected)")
            }
        } else if let expected {
            arch = expected
        } else {
            throw CheckpointError("\(path): no architecture in the metadata; pass --arch (and --shortcut)")
        }
        return Loaded(file: file, architecture: arch)
    }
}
