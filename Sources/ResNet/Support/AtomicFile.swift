import Foundation

/// Crash-safe file replacement.
public enum AtomicFile {
    /// Fault-injection for crash tests: `RESNET_DIST_TEST_WRITE_PAUSE_MS` holds every write this
    /// long between the complete temporary file and its rename, so a test can kill the writer there.
    static let renamePauseMicroseconds: UInt32? = ProcessInfo.processInfo.environment["RESNET_DIST_TEST_WRITE_PAUSE_MS"]
        .flatMap { UInt32($0) }.map { $0 * 1000 }

    /// Writes `data` to a temporary file beside `path`, fsyncs it, renames it over `path` and
    /// fsyncs the directory.
    public static func write(_ data: Data, to path: String) throws {
        let directory =
            (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let temporary = (directory as NSString).appendingPathComponent(
            ".\((path as NSString).lastPathComponent).tmp-\(getpid())")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            // Named by the file asked for: the temporary name beside it means nothing to the user.
            throw ResNetError(
                .fileSystem, "\(path): cannot create a file in \(directory) (\(String(cString: strerror(errno))))")
        }
        // The reason of the first failure, kept before close() or unlink() can change errno.
        var failure: String?
        data.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count && failure == nil {
                let n = Foundation.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { failure = n == 0 ? "nothing written" : String(cString: strerror(errno)) } else { written += n }
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if let failure {
            unlink(temporary)
            throw ResNetError(
                .fileSystem, "\(path): cannot write (\(failure)); the file there before, if any, is untouched")
        }
        if let pause = renamePauseMicroseconds { usleep(pause) }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ResNetError(.fileSystem, "\(path): rename failed (\(String(cString: strerror(errno))))")
        }
        let dfd = open(directory, O_RDONLY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}

/// 64-bit FNV-1a over the bytes (the checkpoint's integrity check).
public func fnv1a64(_ data: Data) -> UInt64 {
    data.withUnsafeBytes { raw in
        var hash = FNV1a64()
        for b in raw.bindMemory(to: UInt8.self) { hash.combine(UInt64(b)) }
        return hash.value
    }
}

/// The 64-bit FNV-1a hash, fed one value at a time (a byte of a file, or the bits of a float).
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}
    @inline(__always) public mutating func combine(_ word: UInt64) { value = (value ^ word) &* 0x100_0000_01b3 }
}
