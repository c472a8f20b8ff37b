import Foundation

/// The metrics of one run, read back from its `metrics.jsonl` (the last value wins where a
/// resumed run logged an iteration twice).
public struct RunLog {
    public let name: String
    /// (iteration, training error) of every logged window.
    public let train: [(iteration: Int, error: Double)]
    /// (iteration, test error) of every evaluation.
    public let test: [(iteration: Int, error: Double)]
    /// The network, as run-config.json names it (`resnet20/A`), if the run wrote one.
    public let architecture: String?

    /// Whether this is a plain network: by its run-config.json, else by its directory's name.
    public var isPlain: Bool { (architecture ?? name).lowercased().hasPrefix("plain") }

    public init(directory: String) throws {
        name = (directory as NSString).lastPathComponent
        let configuration = (directory as NSString).appendingPathComponent(RunDirectory.configurationFile)
        architecture =
            (try? Data(contentsOf: URL(fileURLWithPath: configuration)))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }?["arch"] as? String
        let path = (directory as NSString).appendingPathComponent("metrics.jsonl")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ResNetError(.data, "\(path): cannot read (is \(directory) a run's --output directory?)")
        }
        var train: [Int: Double] = [:]
        var test: [Int: Double] = [:]
        for (number, line) in text.split(separator: "\n").enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let kind = object["kind"] as? String, let iteration = object["iteration"] as? Int
            else {
                throw ResNetError(.data, "\(path): line \(number + 1) is not a metrics record")
            }
            guard iteration >= 0 else {
                throw ResNetError(.data, "\(path): line \(number + 1): key 'iteration' is \(iteration), not >= 0")
            }
            let key = kind == "train" ? "error" : kind == "eval" ? "test_error" : nil
            guard let key else { continue }  // a kind of record this version does not plot
            // A non-finite value is written as null: a diverged run's last window; it is not plotted.
            if object[key] is NSNull { continue }
            guard let error = object[key] as? Double, error >= 0, error <= 1 else {
                throw ResNetError(
                    .data,
                    "\(path): line \(number + 1): key '\(key)' is \(object[key] ?? "missing"), not an error in [0, 1]")
            }
            if kind == "train" { train[iteration] = error } else { test[iteration] = error }
        }
        self.train = train.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        self.test = test.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
