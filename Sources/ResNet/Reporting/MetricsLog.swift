import Foundation

/// JSON-lines metrics of a run (`metrics.jsonl` in the output directory): one object per logged
/// window (`"kind":"train"`) and per evaluation (`"kind":"eval"`). Only the coordinator writes.
public final class MetricsLog: MetricSink {
    private let file: AppendedFile

    /// Appends to `directory/metrics.jsonl`, creating the directory and the file.
    public init(directory: String) throws {
        try createOutputDirectory(directory)
        file = try AppendedFile(path: (directory as NSString).appendingPathComponent("metrics.jsonl"))
    }

    /// One line: kind, iteration, then the values (a non-finite one as null).
    public func write(_ record: MetricRecord) throws {
        var line = "{\"kind\":\(JSON.quoted(record.kind.rawValue)),\"iteration\":\(record.iteration)"
        for (key, value) in record.values {
            line += ",\(JSON.quoted(key)):\(value.isFinite ? String(value) : "null")"
        }
        try file.append(line + "}\n")
    }
}
