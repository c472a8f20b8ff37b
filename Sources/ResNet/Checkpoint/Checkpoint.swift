import Foundation

/// Model checkpoints as safetensors with torchvision names (`conv1.weight`, `layer1.0.bn1.running_mean`,
/// `fc.bias`, ...), momentum as `optimizer.momentum.<name>`, the input normalisation as
/// `normalization.mean` / `normalization.std`, an image folder's class names (`class_names`, a JSON
/// array), and the run's record (`CheckpointMetadata`) in `__metadata__`. A file without the run record (and without momentum) is a model: what
/// `pretrained/` ships and what PyTorch loads.
public enum Checkpoint {
    public static let formatVersion = "1"

    /// Writes `network` with `normalization` atomically to `path`; with `run`, also its momentum
    /// and the run record (a training checkpoint), without it the model alone. `classNames`: the
    /// data set's classes in label order (an image folder's), which `eval` checks.
    public static func save(
        _ network: Network, normalization: Normalization, classNames: [String]? = nil, run: CheckpointMetadata?,
        to path: String
    ) throws {
        let store = network.store
        var tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] = []
        // torchvision's state_dict order: parameters and buffers interleaved per layer.
        for (spec, isParameter) in orderLikeStateDict(store) {
            let base = isParameter ? store.values : store.bufferValues
            tensors.append((spec.name, spec.shape, UnsafeBufferPointer(start: base + spec.offset, count: spec.count)))
        }
        if run != nil {
            for spec in store.parameters {
                tensors.append(
                    (
                        "optimizer.momentum.\(spec.name)", spec.shape,
                        UnsafeBufferPointer(start: store.momentum + spec.offset, count: spec.count)
                    ))
            }
        }
        var normMean: [Float]
        var normStd: [Float] = []
        switch normalization {
        case .perPixelMean(let mean): normMean = mean
        case .perChannel(let mean, let std):
            normMean = mean
            normStd = std
        }
        try normMean.withUnsafeBufferPointer { mean in
            try normStd.withUnsafeBufferPointer { std in
                var all = tensors
                let side = network.architecture.inputSize
                all.append(("normalization.mean", normStd.isEmpty ? [3, side, side] : [3], mean))
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
                if let classNames { meta["class_names"] = "[" + classNames.map(JSON.quoted).joined(separator: ",") + "]" }
                if let run { meta.merge(run.strings) { _, new in new } }
                try SafeTensorsFile.write(all, metadata: meta, to: path)
            }
        }
    }

    static func orderLikeStateDict(_ store: ParameterStore) -> [(spec: TensorSpec, isParameter: Bool)] {
        // Group by module prefix (name without the last component), keeping first-seen order of
        // modules, parameters before buffers within a module (as torch's state_dict does). Modules
        // without parameters keep their place after those with (stable sort on the first parameter).
        var modules: [String] = []
        var members: [String: [(spec: TensorSpec, isParameter: Bool)]] = [:]
        var firstParameter: [String: Int] = [:]
        let all = store.parameters.map { ($0, true) } + store.buffers.map { ($0, false) }
        for (index, (spec, isParameter)) in all.enumerated() {
            let module = String(spec.name[..<(spec.name.lastIndex(of: ".") ?? spec.name.endIndex)])
            if members[module] == nil {
                modules.append(module)
                firstParameter[module] = isParameter ? index : 0
            }
            members[module, default: []].append((spec, isParameter))
        }
        modules.sort { firstParameter[$0]! < firstParameter[$1]! }
        return modules.flatMap { members[$0]! }
    }

    /// A read checkpoint, validated: structure, checksum, architecture and run record.
    public struct Loaded {
        public let file: SafeTensorsFile
        public let architecture: Architecture
        /// The run record; nil for a model file or a bare state dict.
        public let run: CheckpointMetadata?
        public var path: String { file.path }
        public var metadata: [String: String] { file.metadata }

        /// The normalisation stored with the model, if any.
        public func normalization() throws -> Normalization? {
            guard let mean = file.tensors["normalization.mean"] else { return nil }
            let isPerChannel = file.tensors["normalization.std"] != nil
            let side = architecture.inputSize
            let meanShape = isPerChannel ? [3] : [3, side, side]
            var m = [Float](repeating: 0, count: isPerChannel ? 3 : 3 * side * side)
            guard mean.shape == meanShape else {
                throw ResNetError(
                    .damagedCheckpoint,
                    "\(path): tensor 'normalization.mean' has shape \(mean.shape), expected \(meanShape)")
            }
            try m.withUnsafeMutableBufferPointer {
                try file.read("normalization.mean", shape: meanShape, into: $0.baseAddress!)
            }
            guard m.allSatisfy(\.isFinite) else {
                throw ResNetError(.damagedCheckpoint, "\(path): tensor 'normalization.mean' holds a non-finite value")
            }
            guard isPerChannel else { return .perPixelMean(mean: m) }
            var s = [Float](repeating: 0, count: 3)
            try s.withUnsafeMutableBufferPointer {
                try file.read("normalization.std", shape: [3], into: $0.baseAddress!)
            }
            guard s.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw ResNetError(.damagedCheckpoint, "\(path): tensor 'normalization.std' must hold finite values > 0")
            }
            return .perChannel(mean: m, std: s)
        }

        /// The class names stored with the model (trained on an image folder), or nil.
        public func classNames() throws -> [String]? {
            guard let text = metadata["class_names"] else { return nil }
            guard let names = try? JSONDecoder().decode([String].self, from: Data(text.utf8)),
                names.count == architecture.classes
            else {
                throw ResNetError(
                    .damagedCheckpoint,
                    "\(path): metadata key 'class_names' is not a JSON array of \(architecture.classes) names")
            }
            return names
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
                    try file.read(
                        "optimizer.momentum.\(spec.name)", shape: spec.shape, into: store.momentum + spec.offset)
                }
            } else {
                store.momentum.update(repeating: 0, count: store.parameterCount)
            }
        }
    }

    /// Reads and validates `path`. The architecture comes from the metadata, or, for a bare
    /// state dict (e.g. written by PyTorch), from `expected`; a mismatch is an error.
    public static func load(_ path: String, expected: Architecture? = nil) throws -> Loaded {
        try load(SafeTensorsFile(path: path), expected: expected)
    }

    /// Validates a read file as `load` does.
    public static func load(_ file: SafeTensorsFile, expected: Architecture? = nil) throws -> Loaded {
        let path = file.path
        let meta = file.metadata
        var arch: Architecture
        if let name = meta["arch"] {
            guard let shortcut = meta["shortcut"].flatMap(ShortcutOption.init(rawValue:)) else {
                throw ResNetError(
                    .damagedCheckpoint,
                    "\(path): metadata key 'shortcut' is '\(meta["shortcut"] ?? "missing")', not A or B")
            }
            do { arch = try Architecture.parse(name, shortcut: shortcut) } catch {
                throw ResNetError(
                    .damagedCheckpoint,
                    "\(path): metadata key 'arch' names an unknown architecture '\(name.prefix(80))'")
            }
            if let text = meta["classes"] {
                guard let classes = Int(text), classes >= 2, classes <= 1_000_000 else {
                    throw ResNetError(.damagedCheckpoint, "\(path): metadata key 'classes' is '\(text.prefix(80))', not a class count >= 2")
                }
                arch = try arch.with(classes: classes)
            }
            if let expected, expected != arch {
                throw ResNetError(.mismatchedCheckpoint, "\(path): checkpoint is \(arch), not \(expected)")
            }
        } else if let expected {
            arch = expected
        } else {
            throw ResNetError(.configuration, "\(path): no architecture in the metadata; pass --arch (and --shortcut)")
        }
        return Loaded(file: file, architecture: arch, run: try CheckpointMetadata(meta, path: path))
    }
}
