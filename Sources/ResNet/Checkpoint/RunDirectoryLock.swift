import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive hold on a run's `--output` directory for as long as one job trains there, so that a
/// second job (a supervisor restarted twice, a requeue racing a stray job) cannot append to the same
/// metrics or interleave checkpoints. It is an advisory `flock` on `.resnet-dist.lock` in the
/// directory: the kernel drops it when the holder exits, however it exits, so a crash leaves no stale
/// lock; on NFS, Linux carries `flock` over as a POSIX lock. The file names its holder (host, pid,
/// start time) for the error the second job prints.
public final class RunDirectoryLock {
    public static let fileName = ".resnet-dist.lock"
    public let path: String
    private let descriptor: Int32

    /// Takes the lock, creating the directory if needed, or throws naming the job that holds it.
    public init(directory: String) throws {
        try createOutputDirectory(directory)
        path = (directory as NSString).appendingPathComponent(Self.fileName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ResNetError(.fileSystem, "\(path): cannot open the run lock (\(String(cString: strerror(errno))))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let holder = Self.holder(fd)
            close(fd)
            guard reason == EWOULDBLOCK else {
                throw ResNetError(.fileSystem, "\(path): cannot lock (\(String(cString: strerror(reason))))")
            }
            throw ResNetError(
                .configuration,
                "--output \(directory) is in use by another job\(holder.map { " (\($0))" } ?? ""): wait for it to end, stop it, or choose another --output"
            )
        }
        descriptor = fd
        let text = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName) since \(Self.timestamp())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit { close(descriptor) }  // closing the last descriptor releases the lock

    /// What the holder wrote, trimmed, if it is readable and short.
    private static func holder(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty || text.contains("\n") ? nil : text
    }

    private static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date())
    }
}
