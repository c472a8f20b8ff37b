import Foundation

/// A file that grows by whole records (metrics.jsonl, metrics.csv, a TensorBoard event file).
/// Each `append` writes all of its bytes or none: when the disk is full, or any write fails, the
/// file is cut back to where it was and the error names the file, so a resumed run reads every
/// line it finds and the run ends as a failed checkpoint write does (one line, status 1).
public final class AppendedFile {
    public let path: String
    private let descriptor: Int32
    /// The file's length after the last complete record.
    public private(set) var length: off_t

    /// Opens `path` for appending, creating it when it is missing; `truncate` starts it empty.
    public init(path: String, truncate: Bool = false) throws {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else {
            throw ResNetError(.fileSystem, "\(path): cannot open for writing (\(String(cString: strerror(errno))))")
        }
        descriptor = fd
        length = lseek(fd, 0, SEEK_END)
    }

    deinit { close(descriptor) }

    /// Appends `bytes` whole, or throws and leaves the file as it was.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        var written = 0
        while written < bytes.count {
            let n = write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = n == 0 ? "nothing written" : String(cString: strerror(errno))
                _ = ftruncate(descriptor, length)
                throw ResNetError(.fileSystem, "\(path): cannot write (\(reason)); the file keeps its earlier records")
            }
            written += n
        }
        length += off_t(bytes.count)
    }

    public func append(_ text: String) throws {
        var text = text
        try text.withUTF8 { try append(UnsafeRawBufferPointer($0)) }
    }

    public func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }
}
