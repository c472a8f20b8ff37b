import Foundation
import Logging

@testable import ResNet

/// A fresh temporary directory for one test.
func temporaryDirectory(_ name: String = #function) -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "resnet-dist-tests-\(safe)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A logger that only reports problems.
let quietLogger: Logger = {
    var l = Logger(label: "test")
    l.logLevel = .error
    return l
}()

/// A small training configuration for tests.
func smallConfig(depth: Int = 8, batch: Int = 16, iterations: Int = 10, lr: Double = 0.05) -> TrainingConfiguration {
    var c = TrainingConfiguration(
        architecture: try! Architecture(family: .resnet, depth: depth),
        schedule: .init(base: lr, milestones: [], iterations: iterations))
    c.globalBatch = batch
    c.progress = false
    c.evalEvery = 1_000_000
    return c
}

/// `replicas` in-process replicas of a small ResNet-8 run on `data` (per-pixel mean), to the end.
func trainReplicas(
    _ replicas: Int, on data: LabeledImages, batch: Int, iterations: Int, syncBN: Bool, lr: Double = 0.02
) throws -> [(trainer: Trainer, result: TrainingResult)] {
    var config = smallConfig(depth: 8, batch: batch, iterations: iterations, lr: lr)
    config.syncBatchNorm = syncBN
    return try InProcessReplicas.run(
        replicas: replicas, config: config, train: data, test: nil,
        normalization: .perPixelMean(of: data), logger: quietLogger)
}

/// The package's root directory (for finding the built executable).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The `resnet-dist` executable next to this test bundle (same build configuration).
func executablePath() -> String? {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("resnet-dist").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    for config in ["release", "debug"] {
        let candidate = packageRoot + "/.build/\(config)/resnet-dist"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Result of a subprocess.
struct ProcessOutput {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double
}

/// Runs a command with a time limit (killed after `timeout` seconds).
func runProcess(
    _ executable: String, _ arguments: [String], environment extra: [String: String] = [:],
    timeout: Double = 300
) throws -> ProcessOutput {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in extra { env[k] = v }
    p.environment = env
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let start = Date()
    try p.run()
    // Each pipe is read to its end by a thread of its own, with plain reads: a readabilityHandler
    // is a dispatch source on the descriptor, and when the pipe closed before libdispatch had
    // retired that source, the descriptor's number could be reused by another test's pipe and
    // the dispatch manager thread crashed in _dispatch_event_loop_drain (seen once in CI, after
    // every test had passed).
    let stdout = PipeDrain(out.fileHandleForReading)
    let stderr = PipeDrain(err.fileHandleForReading)
    while p.isRunning {
        if Date().timeIntervalSince(start) > timeout {
            p.terminate()
            kill(-p.processIdentifier, SIGKILL)
        }
        usleep(20_000)
    }
    p.waitUntilExit()
    let (outData, errData) = (stdout.wait(), stderr.wait())
    return ProcessOutput(
        status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self), seconds: Date().timeIntervalSince(start))
}

/// A pipe read to its end on a thread of its own; `wait` returns everything it carried.
final class PipeDrain: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private var data = Data()

    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            finished.signal()
        }.start()
    }

    func wait() -> Data {
        finished.wait()
        return data
    }
}

/// `mpirun` with the settings this machine needs (root, oversubscription, one BLAS thread).
func mpirun(_ ranks: Int, _ arguments: [String], extra: [String] = [], timeout: Double = 300) throws -> ProcessOutput {
    guard let exe = executablePath() else { throw TestSkip("resnet-dist executable not built") }
    return try runProcess(
        "/usr/bin/env", ["mpirun", "-np", "\(ranks)", "--oversubscribe"] + extra + [exe] + arguments,
        environment: [
            "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
            "OPENBLAS_NUM_THREADS": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1",
        ],
        timeout: timeout)
}

/// `command` (for /usr/bin/env) started with no signal blocked: Foundation's Process starts
/// children with most signals blocked, and an mpirun started so never sees (or forwards) SIGTERM
/// or SIGUSR1, unlike one started from a shell or by Slurm.
func withSignalsUnblocked(_ command: [String]) -> [String] {
    ["perl", "-e", "use POSIX; sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die; exec @ARGV or die", "--"] + command
}

/// Starts `mpirun -np ranks command...` in the background, with signals unblocked; its output is
/// discarded, except standard error when a file `stderr` is given.
func startMpirun(_ ranks: Int, _ command: [String], stderr: String? = nil) throws -> Process {
    let job = Process()
    job.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    job.arguments = withSignalsUnblocked(["mpirun", "-np", "\(ranks)", "--oversubscribe"] + command)
    job.environment = ProcessInfo.processInfo.environment.merging(
        ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OPENBLAS_NUM_THREADS": "1"]) { $1 }
    job.standardOutput = FileHandle.nullDevice
    if let stderr, FileManager.default.createFile(atPath: stderr, contents: nil),
        let file = FileHandle(forWritingAtPath: stderr)
    {
        job.standardError = file
    } else {
        job.standardError = FileHandle.nullDevice
    }
    try job.run()
    return job
}

var mpirunAvailable: Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/mpirun")
    }
}

struct TestSkip: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The float32 tensors of a safetensors file, by name (bytes, for exact comparison).
func tensorBytes(_ path: String, prefix: String = "") throws -> [String: Data] {
    let f = try SafeTensorsFile(path: path)
    var out: [String: Data] = [:]
    for (name, t) in f.tensors where name.hasPrefix(prefix) { out[name] = f.data.subdata(in: t.range) }
    return out
}

/// Whether `error` is a ResNetError of `kind` whose line names each of `texts` (a file, a key).
func isError(_ error: Error, _ kind: ResNetError.Kind, naming texts: String...) -> Bool {
    guard let error = error as? ResNetError, error.kind == kind else { return false }
    return texts.allSatisfy { error.description.contains($0) }
}
