import Foundation
import Testing

@testable import ResNet

/// A small tmpfs this test mounts (root only), unmounted when the suite is done; nil with the reason
/// when mounting is not allowed here.
let smallFileSystem: (path: String?, reason: String) = {
    let path = temporaryDirectory("fulldisk-mount")
    guard getuid() == 0 else { return (nil, "mounting a tmpfs needs root") }
    guard let out = try? runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", path], timeout: 30),
        out.status == 0
    else { return (nil, "mount -t tmpfs is not allowed here (a container without CAP_SYS_ADMIN?)") }
    atexit { _ = try? runProcess("/bin/umount", ["-l", smallFileSystem.path!], timeout: 30) }
    return (path, "")
}()

/// The disk fills while a run goes on. Every write the trainer makes (run-config, the TensorBoard
/// events, metrics.jsonl, metrics.csv, checkpoints) then fails as a checkpoint write always did:
/// one line naming the file, status 1 (supervise.sh restarts), no crash; each file keeps its whole
/// records, and the newest checkpoint loads. Once there is space again the run resumes to its end.
@Suite(.serialized, .enabled(if: smallFileSystem.path != nil, "\(smallFileSystem.reason)"))
struct FullDiskTests {
    let tiny = ["train", "--arch", "resnet8", "--data", "generated", "--batch-size", "16", "--log-every", "1"]

    /// Fills `disk` with `filler`, then frees `pages` 4 KiB pages of it.
    func fill(_ filler: String, leaving pages: Int) throws {
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let block = [UInt8](repeating: 7, count: 4096)
        var size: off_t = 0
        while write(fd, block, block.count) == block.count { size += 4096 }
        ftruncate(fd, max(0, size - off_t(pages * 4096)))
        close(fd)
    }

    /// The disk full at several points of the resumed run, each time from the same start: between
    /// them they hit every file the trainer writes.
    @Test func aFullDiskEndsTheRunWithOneLineAndLosesNothing() throws {
        var failedWrites: Set<String> = []
        for freePages in [0, 1, 2, 3, 4, 8] {
            failedWrites.insert(try fillTheDisk(leaving: freePages))
        }
        let kinds = ["run-config-resumed-", "events.out.tfevents.", "metrics.", "checkpoint-"]
        for kind in kinds {
            #expect(failedWrites.contains { $0.hasPrefix(kind) }, "no write to \(kind)* failed: \(failedWrites)")
        }
    }

    /// One run stopped by a full disk with `freePages` left, and resumed; the file that failed.
    func fillTheDisk(leaving freePages: Int) throws -> String {
        let exe = try #require(executablePath(), "resnet-dist not built")
        let disk = try #require(smallFileSystem.path)
        for name in try FileManager.default.contentsOfDirectory(atPath: disk) {
            try FileManager.default.removeItem(atPath: disk + "/" + name)
        }
        let run = disk + "/run"
        let first = try runProcess(
            exe, tiny + ["--iterations", "60", "--stop-after", "4", "--checkpoint-every", "2", "--keep", "1", "--output", run],
            timeout: 120)
        try #require(first.status == 0, "\(first.stderr)")

        try fill(disk + "/filler", leaving: freePages)
        let resumed = tiny + ["--iterations", "60", "--keep", "1", "--output", run, "--resume", "auto"]
        let full = try runProcess(exe, resumed, timeout: 120)
        #expect(full.status == 1, "status \(full.status): \(full.stderr.suffix(1500))")
        let errors = full.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1 && errors[0].contains(run + "/"), "\(full.stderr.suffix(1500))")
        #expect(errors.first?.contains("No space left on device") == true, "\(full.stderr.suffix(1500))")
        #expect(!full.stderr.contains("Fatal error") && !full.stderr.contains("Program crashed"))
        // The line is "error: RUN/FILE: cannot write (...)".
        let failed = String(errors.first?.dropFirst("error: \(run)/".count).prefix { $0 != ":" } ?? "")

        // Nothing half-written: every metrics line parses, every CSV row has every column, the newest
        // checkpoint loads, and no temporary file is left behind.
        _ = try RunLog(directory: run)
        let rows = try String(contentsOfFile: run + "/metrics.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 10 })
        let newest = try #require(try CheckpointDirectory(path: run).latestGood(expected: nil) { _ in })
        #expect((newest.run?.iteration ?? 0) >= 4)
        let names = try FileManager.default.contentsOfDirectory(atPath: run)
        #expect(!names.contains { $0.contains(".tmp-") }, "\(names)")

        // Space again: the same command finishes the run, every iteration logged.
        try FileManager.default.removeItem(atPath: disk + "/filler")
        let again = try runProcess(exe, resumed, timeout: 300)
        #expect(again.status == 0, "\(again.stderr.suffix(1500))")
        let log = try RunLog(directory: run)
        #expect(Set(log.train.map(\.iteration)) == Set(1...60))
        #expect(FileManager.default.fileExists(atPath: run + "/checkpoint-00000060.safetensors"))
        return failed
    }
}
