import Foundation

/// A TensorBoard event file (`events.out.tfevents.<time>.<host>.<pid>`) of scalar summaries, next
/// to metrics.jsonl. The format: TFRecord framing (little-endian length, masked CRC-32C of the
/// length, the record, masked CRC-32C of the record) around `tensorflow.Event` protocol buffers,
/// encoded here by hand: only `wall_time`, `step`, `file_version` and `summary.value{tag,
/// simple_value}` are written. A resumed run starts a new file; TensorBoard reads them all.
public final class TensorBoardEvents: MetricSink {
    private let file: AppendedFile
    public var path: String { file.path }

    /// TensorBoard's tag for each value of a record that it plots (the rest are not plotted).
    static let tags: [String: String] = [
        "loss": "train/loss", "error": "train/error", "lr": "train/lr", "images_per_s": "train/images_per_s",
        "test_error": "test/error", "test_loss": "test/loss",
    ]

    public init(directory: String) throws {
        let now = Date().timeIntervalSince1970
        let host = ProcessInfo.processInfo.hostName
        file = try AppendedFile(
            path: (directory as NSString).appendingPathComponent("events.out.tfevents.\(Int(now)).\(host).\(getpid())"),
            truncate: true)
        var first = ProtobufWriter()
        first.double(field: 1, now)
        first.varint(field: 2, 0)
        first.bytes(field: 3, Array("brain.Event:2".utf8))
        try writeRecord(first.bytes)
    }

    /// One event holding the record's values that TensorBoard plots, at its iteration.
    public func write(_ record: MetricRecord) throws {
        var summary = ProtobufWriter()
        for (key, value) in record.values {
            guard let tag = Self.tags[key] else { continue }
            var entry = ProtobufWriter()
            entry.bytes(field: 1, Array(tag.utf8))
            entry.float(field: 2, Float(value))
            summary.bytes(field: 1, entry.bytes)
        }
        var event = ProtobufWriter()
        event.double(field: 1, Date().timeIntervalSince1970)
        event.varint(field: 2, UInt64(max(0, record.iteration)))
        event.bytes(field: 5, summary.bytes)
        try writeRecord(event.bytes)
    }

    private func writeRecord(_ record: [UInt8]) throws {
        var length = [UInt8]()
        withUnsafeBytes(of: UInt64(record.count).littleEndian) { length.append(contentsOf: $0) }
        var framed = length
        withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { framed.append(contentsOf: $0) }
        framed += record
        withUnsafeBytes(of: CRC32C.masked(record).littleEndian) { framed.append(contentsOf: $0) }
        try file.append(framed)
    }
}

/// The few protocol-buffer wire types an Event needs.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    private mutating func rawVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func varint(field: Int, _ value: UInt64) {
        rawVarint(UInt64(field << 3 | 0))
        rawVarint(value)
    }

    mutating func double(field: Int, _ value: Double) {
        rawVarint(UInt64(field << 3 | 1))
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func float(field: Int, _ value: Float) {
        rawVarint(UInt64(field << 3 | 5))
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func bytes(field: Int, _ value: [UInt8]) {
        rawVarint(UInt64(field << 3 | 2))
        rawVarint(UInt64(value.count))
        bytes += value
    }
}
