import Foundation

/// A run's `--output` directory. One run lives in one directory: a new run refuses a directory
/// that holds another one (unless told to replace it), so checkpoints, `latest` and metrics of
/// two runs never mix.
public struct RunDirectory {
    public let path: String
    public static let configurationFile = "run-config.json"

    public init(path: String) { self.path = path }

    /// The files of a run here: checkpoints, `latest`, metrics, configuration.
    public func runFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { name in
            (name.hasPrefix("checkpoint-") && name.hasSuffix(".safetensors")) || name == "latest"
                || name == "metrics.jsonl" || name == "metrics.csv" || name.hasPrefix("events.out.tfevents.")
                || name == Self.configurationFile
                || name.hasPrefix("run-config-resumed-")
        }.sorted()
    }

    /// Before a new run (no resume): fails when another run is here, or, with `overwrite`,
    /// deletes that run's files (and nothing else).
    public func prepareNewRun(overwrite: Bool) throws {
        let existing = runFiles()
        guard !existing.isEmpty else { return }
        guard overwrite else {
            let shown = existing.prefix(3).joined(separator: ", ") + (existing.count > 3 ? ", ..." : "")
            throw ResNetError(
                .configuration,
                "--output \(path) holds another run (\(shown)): continue it with --resume auto, choose a new --output, or replace it with --overwrite"
            )
        }
        for name in existing {
            do {
                try FileManager.default.removeItem(atPath: (path as NSString).appendingPathComponent(name))
            } catch {
                throw ResNetError(
                    .fileSystem, "\(path)/\(name): cannot remove for --overwrite (\(error.localizedDescription))")
            }
        }
    }

    /// Writes the run's configuration (`run-config.json`, or beside it for a resumed start).
    public func writeConfiguration(_ json: String, resumedAt iteration: Int?) throws {
        try createOutputDirectory(path)
        let name = iteration.map { String(format: "run-config-resumed-%08d.json", $0) } ?? Self.configurationFile
        try AtomicFile.write(Data(json.utf8), to: (path as NSString).appendingPathComponent(name))
    }
}
