import Foundation

/// `metrics.csv`: the rows of metrics.jsonl with fixed columns, for spreadsheets. A training row
/// leaves the test columns empty and an evaluation row the training ones. A resumed run appends.
public final class MetricsCSV: MetricSink {
    public static let columns = [
        "kind", "iteration", "epoch", "lr", "loss", "error", "images_per_s", "time_s", "test_loss", "test_error",
    ]
    private let file: AppendedFile

    public init(directory: String) throws {
        file = try AppendedFile(path: (directory as NSString).appendingPathComponent("metrics.csv"))
        if file.length == 0 { try file.append(Self.columns.joined(separator: ",") + "\n") }
    }

    /// One row: numbers in full precision, columns the record does not have (or non-finite) empty.
    public func write(_ record: MetricRecord) throws {
        let values = Dictionary(record.values.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        let cells = Self.columns.map { column -> String in
            switch column {
            case "kind": return record.kind.rawValue
            case "iteration": return String(record.iteration)
            default: return values[column].map { $0.isFinite ? String($0) : "" } ?? ""
            }
        }
        try file.append(cells.joined(separator: ",") + "\n")
    }
}
