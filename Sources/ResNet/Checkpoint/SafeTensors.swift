import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header mapping each
/// tensor name to `{dtype, shape, data_offsets}` (plus a `__metadata__` map of strings), then the
/// raw little-endian tensor bytes. Only float32 (`F32`) tensors are written; F32 is read.
public struct SafeTensorsFile {
    public struct Tensor {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        /// Byte range within `data`.
        public let range: Range<Int>
    }

    public let path: String
    public let metadata: [String: String]
    public let tensors: [String: Tensor]
    /// The data section (everything after the header).
    public let data: Data

    /// Reads and validates the structure: header length and JSON, every tensor inside the data,
    /// sizes consistent with shapes. Errors name the file.
    public init(path: String) throws {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw ResNetError(.damagedCheckpoint, "\(path): cannot read checkpoint")
        }
        try self.init(bytes: bytes, path: path)
    }

    /// Parses the bytes of a file; `path` names it in errors.
    public init(bytes: Data, path: String) throws {
        self.path = path
        let bytes = bytes.startIndex == 0 ? bytes : Data(bytes)
        guard bytes.count >= 8 else {
            throw ResNetError(.damagedCheckpoint, "\(path): truncated (\(bytes.count) bytes)")
        }
        let headerLength = bytes.prefix(8).enumerated().reduce(UInt64(0)) {
            $0 | UInt64($1.element) << (8 * UInt64($1.offset))
        }
        guard headerLength <= UInt64(bytes.count - 8), headerLength < 100_000_000 else {
            throw ResNetError(
                .damagedCheckpoint,
                "\(path): truncated or not a safetensors file (header of \(headerLength) bytes in a \(bytes.count)-byte file)"
            )
        }
        let headerEnd = 8 + Int(headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: bytes[8..<headerEnd]) as? [String: Any] else {
            throw ResNetError(.damagedCheckpoint, "\(path): corrupt safetensors header")
        }
        data = bytes.subdata(in: headerEnd..<bytes.count)
        var metadata: [String: String] = [:]
        var tensors: [String: Tensor] = [:]
        for (key, value) in json {
            if key == "__metadata__" {
                guard let map = value as? [String: String] else {
                    throw ResNetError(.damagedCheckpoint, "\(path): corrupt __metadata__")
                }
                metadata = map
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2,
                offsets[0] >= 0, offsets[0] <= offsets[1]
            else {
                throw ResNetError(.damagedCheckpoint, "\(path): corrupt header entry for '\(key)'")
            }
            guard offsets[1] <= data.count else {
                throw ResNetError(
                    .damagedCheckpoint,
                    "\(path): truncated: tensor '\(key)' ends at byte \(offsets[1]) of a \(data.count)-byte data section"
                )
            }
            let width =
                ["F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1][
                    dtype] ?? 0
            guard width > 0 else {
                throw ResNetError(.damagedCheckpoint, "\(path): tensor '\(key)' has unknown dtype '\(dtype)'")
            }
            guard let bytes = Self.byteCount(shape: shape, width: width) else {
                throw ResNetError(.damagedCheckpoint, "\(path): tensor '\(key)' has an impossible shape \(shape)")
            }
            guard bytes == offsets[1] - offsets[0] else {
                throw ResNetError(
                    .damagedCheckpoint,
                    "\(path): tensor '\(key)' has \(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtype)")
            }
            tensors[key] = Tensor(name: key, dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        self.metadata = metadata
        self.tensors = tensors
        if let expected = metadata[Self.checksumKey], expected != String(fnv1a64(data), radix: 16) {
            throw ResNetError(
                .damagedCheckpoint, "\(path): corrupt: checksum of the tensor data does not match its header")
        }
    }

    /// Bytes of a tensor of `shape` with elements of `width` bytes; nil for a negative dimension
    /// or a product past Int.max.
    static func byteCount(shape: [Int], width: Int) -> Int? {
        var total = width
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// Metadata key of the FNV-1a 64 checksum of the data section (written by `write`; files
    /// from other writers have none and are checked for structure only).
    public static let checksumKey = "checksum_fnv1a64"

    /// Copies a float32 tensor into `destination` (which holds `count` floats); the error names the key.
    public func read(_ name: String, shape: [Int], into destination: UnsafeMutablePointer<Float>) throws {
        guard let t = tensors[name] else { throw ResNetError(.damagedCheckpoint, "\(path): missing tensor '\(name)'") }
        guard t.shape == shape else {
            throw ResNetError(.damagedCheckpoint, "\(path): tensor '\(name)' has shape \(t.shape), expected \(shape)")
        }
        guard t.dtype == "F32" else {
            throw ResNetError(.damagedCheckpoint, "\(path): tensor '\(name)' is \(t.dtype), expected F32")
        }
        data.withUnsafeBytes { raw in
            let src = raw.baseAddress! + t.range.lowerBound
            UnsafeMutableRawPointer(destination).copyMemory(from: src, byteCount: t.range.count)
        }
    }

    /// Writes tensors (float32, in the order given) and metadata to `path` atomically: a temporary
    /// file in the same directory, fsync, rename over `path`, fsync of the directory. A crash at any
    /// point leaves either the old file or the complete new one.
    public static func write(
        _ tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)],
        metadata: [String: String], to path: String
    ) throws {
        var body = Data()
        for t in tensors {
            body.append(
                UnsafeBufferPointer(
                    start: UnsafeRawPointer(t.values.baseAddress!).assumingMemoryBound(to: UInt8.self),
                    count: t.values.count * 4))
        }
        var metadata = metadata
        metadata[checksumKey] = String(fnv1a64(body), radix: 16)
        var header = "{\"__metadata__\":{"
        header += metadata.keys.sorted().map { "\(JSON.quoted($0)):\(JSON.quoted(metadata[$0]!))" }.joined(
            separator: ",")
        header += "}"
        var offset = 0
        for t in tensors {
            let bytes = t.values.count * 4
            header +=
                ",\(JSON.quoted(t.name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        while (header.utf8.count + 8) % 8 != 0 { header += " " }
        var out = Data(capacity: 8 + header.utf8.count + offset)
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        out.append(body)
        try AtomicFile.write(out, to: path)
    }
}
