import Foundation

/// A TensorBoard event file (`events.out.tfevents.<time>.<host>.<pid>`) of scalar summaries, next
/// to metrics.jsonl. The format: TFRecord framing (little-endian length, masked CRC-32C of the
/// length, the record, masked CRC-32C of the record) around `tensorflow.Event` protocol buffers,
/// encoded here by hand: only `wall_time`, `step`, `file_version` and `summary.value{tag,
/// simple_value}` are written. A resumed run starts a new file; TensorBoard reads them all.
public final class TensorBoardEvents {
    private let handle: FileHandle
    public let path: String

    public init(directory: String) throws {
        let now = Date().timeIntervalSince1970
        let host = ProcessInfo.processInfo.hostName
        path = (directory as NSString).appendingPathComponent(
            "events.out.tfevents.\(Int(now)).\(host).\(getpid())")
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path)
        else {
            throw ResNetError(.fileSystem, "\(path): cannot create the TensorBoard event file")
        }
        handle = h
        var first = ProtobufWriter()
        first.double(field: 1, now)
        first.varint(field: 2, 0)
        first.bytes(field: 3, Array("brain.Event:2".utf8))
        writeRecord(first.bytes)
    }

    deinit { try? handle.close() }

    /// One event holding `scalars` (tag, value) at `step`.
    public func write(step: Int, _ scalars: KeyValuePairs<String, Double>) {
        var summary = ProtobufWriter()
        for (tag, value) in scalars {
            var entry = ProtobufWriter()
            entry.bytes(field: 1, Array(tag.utf8))
            entry.float(field: 2, Float(value))
            summary.bytes(field: 1, entry.bytes)
        }
        var event = ProtobufWriter()
        event.double(field: 1, Date().timeIntervalSince1970)
        event.varint(field: 2, UInt64(max(0, step)))
        event.bytes(field: 5, summary.bytes)
        writeRecord(event.bytes)
    }

    private func writeRecord(_ record: [UInt8]) {
        var length = [UInt8]()
        withUnsafeBytes(of: UInt64(record.count).littleEndian) { length.append(contentsOf: $0) }
        var framed = length
        withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { framed.append(contentsOf: $0) }
        framed += record
        withUnsafeBytes(of: CRC32C.masked(record).littleEndian) { framed.append(contentsOf: $0) }
        handle.write(Data(framed))
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
