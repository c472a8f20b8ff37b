import Foundation

/// `metrics.csv`: the rows of metrics.jsonl with fixed columns, for spreadsheets. A training row
/// leaves the test columns empty and an evaluation row the training ones. A resumed run appends.
public final class MetricsCSV {
    public static let columns = [
        "kind", "iteration", "epoch", "lr", "loss", "error", "images_per_s", "time_s", "test_loss", "test_error",
    ]
    private let handle: FileHandle

    public init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent("metrics.csv")
        let isNew = !FileManager.default.fileExists(atPath: path)
        if isNew { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw ResNetError(.fileSystem, "\(path): cannot open for writing")
        }
        h.seekToEndOfFile()
        handle = h
        if isNew { handle.write(Data((Self.columns.joined(separator: ",") + "\n").utf8)) }
    }

    deinit { try? handle.close() }

    /// One row; `values` by column name, numbers written in full precision, absent ones empty.
    public func write(kind: String, _ values: [String: Double]) {
        let cells = Self.columns.map { column -> String in
            if column == "kind" { return kind }
            guard let value = values[column] else { return "" }
            if column == "iteration" { return String(Int(value)) }
            return value.isFinite ? String(value) : ""
        }
        handle.write(Data((cells.joined(separator: ",") + "\n").utf8))
    }
}
