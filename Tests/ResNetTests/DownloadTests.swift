import Foundation
import Testing

/// python3, for the local HTTP server the download tests start (never the real URL: these machines
/// reach no web site).
let python3: String? = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// launch/get-cifar10.sh against archives served from 127.0.0.1.
@Suite(.enabled(if: python3 != nil, "python3 is not installed: no local HTTP server for the download tests"))
final class DownloadTests {
    let served = temporaryDirectory("download-served")
    let fixture = packageRoot + "/Tests/Fixtures/download_server.py"
    let script = packageRoot + "/launch/get-cifar10.sh"
    let server = Process()
    let serverInput = Pipe()
    var port = 0

    init() throws {
        _ = try runProcess(python3!, [fixture, "make", served])
        server.executableURL = URL(fileURLWithPath: python3!)
        server.arguments = [fixture, "serve", served]
        let out = Pipe()
        server.standardOutput = out
        server.standardInput = serverInput
        try server.run()
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    // SIGKILL: Foundation starts children with signals blocked, so SIGTERM would not stop it.
    deinit { kill(server.processIdentifier, SIGKILL) }

    func sha256(_ path: String) throws -> String {
        let out = try runProcess("/usr/bin/sha256sum", [path])
        return String(out.stdout.prefix(64))
    }

    func size(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber).intValue
    }

    /// The script fetching `name` from the local server into `dir`, with `name`'s own checksum
    /// unless another is given.
    func get(_ name: String, into dir: String, sha: String? = nil, bytes: Int? = nil) throws -> ProcessOutput {
        let archive = served + "/" + name
        return try runProcess(
            "/bin/bash", [script, dir],
            environment: [
                "CIFAR10_URL": "http://127.0.0.1:\(port)/\(name)",
                "CIFAR10_SHA256": try sha ?? sha256(archive),
                "CIFAR10_BYTES": String(try bytes ?? size(archive)),
            ], timeout: 60)
    }

    let batches = (1...5).map { "data_batch_\($0).bin" } + ["test_batch.bin"]

    @Test func downloadsChecksAndExtractsOnlyTheSixBatches() throws {
        #expect(port > 0)
        let dir = temporaryDirectory() + "/cifar-10-batches-bin"
        let first = try get("good.tar.gz", into: dir)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("downloading http://127.0.0.1"))
        for (index, name) in batches.enumerated() {
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            #expect(data.count == 2 * 3073 && data[1] == UInt8(index), "\(name) is the archive's member")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }
        #expect(Set(names) == Set(batches), "only the six .bin members: \(names)")
        let again = try get("good.tar.gz", into: dir)
        #expect(again.status == 0 && again.stderr.contains("nothing to do"))
    }

    @Test func aWrongChecksumIsRefusedAndNothingExtracted() throws {
        let dir = temporaryDirectory()
        let result = try get("good.tar.gz", into: dir, sha: String(repeating: "0", count: 64))
        #expect(result.status == 1)
        #expect(result.stderr.contains("has SHA-256") && result.stderr.contains("not 0000"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/data_batch_1.bin"))
    }

    @Test func membersOutsideTheDirectoryOrLinksAreRefused() throws {
        let dir = temporaryDirectory() + "/a/b"
        let dotdot = try get("dotdot.tar.gz", into: dir)
        #expect(dotdot.status == 1 && dotdot.stderr.contains("cifar-10-batches-bin/../../escaped.txt"))
        #expect(dotdot.stderr.contains("refused"))
        let link = try get("link.tar.gz", into: dir + "/link")
        #expect(link.status == 1 && link.stderr.contains("not a regular file"), "\(link.stderr)")
        for path in [dir + "/escaped.txt", dir + "/../escaped.txt", dir + "/data_batch_1.bin"] {
            #expect(!FileManager.default.fileExists(atPath: path), "\(path) must not exist")
        }
    }

    @Test func aDownloadCutShortIsResumed() throws {
        // The server first has only the first 1,000 bytes of the archive: the script keeps them
        // and fails; once the whole file is there, the next run asks for the rest and finishes.
        let whole = try Data(contentsOf: URL(fileURLWithPath: served + "/good.tar.gz"))
        try whole.prefix(1000).write(to: URL(fileURLWithPath: served + "/cut.tar.gz"))
        let dir = temporaryDirectory()
        let short = try get("cut.tar.gz", into: dir, sha: try sha256(served + "/good.tar.gz"), bytes: whole.count)
        #expect(short.status == 1 && short.stderr.contains("stopped at 1000 of \(whole.count) bytes"))
        try whole.write(to: URL(fileURLWithPath: served + "/cut.tar.gz"))
        let resumed = try get("cut.tar.gz", into: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming the partial download at byte 1000"))
        #expect(FileManager.default.fileExists(atPath: dir + "/test_batch.bin"))
    }
}
