import Foundation

/// A run's checkpoints in one directory: `checkpoint-00001000.safetensors`, ..., the last `keep`
/// kept, and a `latest` file naming the newest. Only the coordinator writes here.
public struct CheckpointDirectory {
    public let path: String
    public let keep: Int

    public init(path: String, keep: Int = 3) {
        self.path = path
        self.keep = max(1, keep)
    }

    public func file(iteration: Int) -> String {
        (path as NSString).appendingPathComponent(String(format: "checkpoint-%08d.safetensors", iteration))
    }

    var latestPointer: String { (path as NSString).appendingPathComponent("latest") }

    /// Checkpoints present, newest first.
    public func existing() -> [(iteration: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), name.hasSuffix(".safetensors"),
                let it = Int(name.dropFirst("checkpoint-".count).dropLast(".safetensors".count))
            else { return nil }
            return (it, (path as NSString).appendingPathComponent(name))
        }.sorted { $0.0 > $1.0 }
    }

    /// Saves a training checkpoint of `run.iteration`, points `latest` at it and removes the
    /// oldest others beyond `keep` (never the one just written).
    public func save(
        _ network: Network, normalization: Normalization, classNames: [String]? = nil, run: CheckpointMetadata
    ) throws -> String {
        try createOutputDirectory(path)
        let target = file(iteration: run.iteration)
        try Checkpoint.save(network, normalization: normalization, classNames: classNames, run: run, to: target)
        try AtomicFile.write(Data(((target as NSString).lastPathComponent + "\n").utf8), to: latestPointer)
        for old in existing().filter({ $0.path != target }).dropFirst(keep - 1) {
            try? FileManager.default.removeItem(atPath: old.path)
        }
        return target
    }

    /// The newest checkpoint that loads and verifies, trying `latest` first and then older files.
    /// Each file passed over is reported through `warn` with its reason. Nil when there is none.
    public func latestGood(expected: Architecture?, warn: (String) -> Void) throws -> Checkpoint.Loaded? {
        var candidates = existing().map(\.path)
        if let pointed = try? String(contentsOfFile: latestPointer, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !pointed.isEmpty
        {
            let full = (path as NSString).appendingPathComponent(pointed)
            candidates.removeAll { $0 == full }
            candidates.insert(full, at: 0)
        }
        for candidate in candidates {
            do {
                return try Checkpoint.load(candidate, expected: expected)
            } catch let error as ResNetError where error.kind == .damagedCheckpoint {
                warn("skipping \(error.description); falling back to an older checkpoint")
            }
        }
        return nil
    }
}
