import Foundation

/// JSON-lines metrics of a run (`metrics.jsonl` in the output directory): one object per logged
/// step (`"kind":"train"`) and per evaluation (`"kind":"eval"`). Only the coordinator writes.
public final class MetricsLog {
    private let handle: FileHandle?

    /// Appends to `directory/metrics.jsonl` (creating it); nil directory: no file.
    public init(directory: String?) throws {
        guard let directory else {
            handle = nil
            return
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent("metrics.jsonl")
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw ResNetError(.data, "\(path): cannot open for writing")
        }
        h.seekToEndOfFile()
        handle = h
    }

    deinit { try? handle?.close() }

    /// Writes one line; values are numbers, strings or booleans.
    public func write(_ fields: KeyValuePairs<String, Any>) {
        guard let handle else { return }
        let body = fields.map { key, value -> String in
            let v: String
            switch value {
            case let s as String: v = JSON.quoted(s)
            case let b as Bool: v = b ? "true" : "false"
            case let d as Double: v = d.isFinite ? String(d) : "null"
            default: v = "\(value)"
            }
            return "\(JSON.quoted(key)):\(v)"
        }.joined(separator: ",")
        handle.write(Data(("{" + body + "}\n").utf8))
    }
}
