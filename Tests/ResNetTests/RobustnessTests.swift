import Foundation
import Testing

@testable import ResNet

/// Issue 12's findings, each turned into a clear one-line error or the safe behaviour, driven
/// through the built `resnet-dist` as users run it.
struct RobustnessTests {
    let tiny = ["train", "--arch", "resnet8", "--data", "generated", "--batch-size", "16"]

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessOutput {
        let exe = try #require(executablePath(), "resnet-dist not built")
        return try runProcess(exe, arguments, environment: environment, timeout: 120)
    }

    func expectOneLineError(
        _ out: ProcessOutput, status: Int32, containing text: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(out.status == status, "status \(out.status); stderr: \(out.stderr)", sourceLocation: sourceLocation)
        let errors = out.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") || $0.hasPrefix("Error:") }
        #expect(errors.count == 1, "stderr: \(out.stderr)", sourceLocation: sourceLocation)
        #expect(out.stderr.contains(text), "stderr: \(out.stderr)", sourceLocation: sourceLocation)
        #expect(
            !out.stderr.contains("Program crashed") && !out.stderr.contains("Fatal error"),
            sourceLocation: sourceLocation)
    }

    func checkpoints(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("checkpoint-") }
            .sorted()
    }

    @Test(
        "flags out of range are refused before anything runs",
        arguments: [
            (["--checkpoint-every", "0"], "--checkpoint-every must be at least 1"),
            (["--eval-every", "0"], "--eval-every must be at least 1"),
            (["--lr=nan"], "--lr must be a finite number"),
            (["--lr=inf"], "--lr must be a finite number"),
            (["--lr", "-1"], "--lr must be a finite number >= 0, got -1.0"),
            (
                ["--normalization", "per-channel", "--mean", "0.5,0.5,0.5", "--std", "0,0,0"],
                "--std takes finite numbers > 0"
            ),
            (["--mean", "0.5,0.5,0.5", "--std", "-0.2,0.2,0.2"], "--std takes finite numbers > 0"),
            (["--momentum", "1.5"], "--momentum must be in [0, 1)"),
            (["--weight-decay", "nan"], "--weight-decay must be a finite number"),
            (["--keep", "0"], "--keep must be at least 1"),
            (["--milestones", "15x"], "--milestones: '15x'"),
            (["--bn-group", "0"], "--bn-group must be in 1...2,147,483,647, got 0"),
            (["--bn-group", "9223372036854775807"], "--bn-group must be in 1...2,147,483,647"),
            (["--bucket-mb", "1e308"], "--bucket-mb must be a positive number of MiB up to 1,048,576, got 1e+308"),
            (["--bn-group", "2", "--sync-bn"], "--bn-group and --sync-bn do not go together"),
            (["--optimizer", "lars", "--trust-coefficient", "0"], "--trust-coefficient must be a finite number > 0"),
            (["--trust-coefficient", "0.01"], "--trust-coefficient is for --optimizer lars"),
            (["--label-smoothing", "1"], "--label-smoothing must be in [0, 1), got 1.0"),
            (["--label-smoothing", "-0.1"], "--label-smoothing must be in [0, 1), got -0.1"),
            (["--schedule", "cosine", "--milestones", "5"], "--milestones and --schedule cosine do not go together"),
            (["--threads", "100000"], "--threads 100000 is more than one process runs (at most 1024)"),
            (["--threads", "300", "--replicas", "4"], "--threads 300 (times --replicas 4) is more than one process runs"),
            (["--threads", "4611686018427387904", "--replicas", "4"], "(times --replicas 4) is more than one process runs"),
            (["--replicas", "100000"], "--replicas 100000 is more than one process runs"),
            (["--decode-threads", "5000"], "--decode-threads must be in 0...1024, got 5000"),
            (["--warmup-epochs", "1e300"], "--warmup-epochs must be a number in 0...100,000,000, got 1e+300"),
            (["--warmup-epochs", "0.5"], "--warmup-epochs 0.5 (64 iterations) is longer than the run (2 iterations)"),
            (["--recipe", "paper", "--schedule", "cosine"], "--schedule cosine and --recipe paper do not go together"),
        ])
    func badFlags(flags: [String], message: String) throws {
        let out = try run(tiny + ["--iterations", "2"] + flags)
        expectOneLineError(out, status: 64, containing: message)
    }

    /// Run lengths and batches whose counts overflowed (a trap) or whose per-step records asked the
    /// allocator for terabytes (an abort), 2026-12-02: refused before anything runs.
    @Test(
        "a run length or batch past what the counts hold is refused",
        arguments: [
            (["--epochs", "9223372036854775807"], "--epochs must be in 1...100,000,000, got 9223372036854775807"),
            (["--epochs", "100000000"], "--epochs 100000000 of 128 iterations is more than 100,000,000 iterations"),
            (["--iterations", "1000000000000"], "--iterations must be in 1...100,000,000, got 1000000000000"),
            (["--batch-size", "9223372036854775807"], "--batch-size must be in 1...2,147,483,647, got 9223372036854775807"),
        ])
    func runLengthBeyondTheCounts(flags: [String], message: String) throws {
        let out = try run(["train", "--arch", "resnet8", "--data", "generated", "--batch-size", "16"] + flags)
        expectOneLineError(out, status: 64, containing: message)
    }

    /// `--depth 600002` asked the allocator for 39 GB of parameters; bench's `--batch-size
    /// 9223372036854775807`, the step counts of bench and scaling, `scaling replay --time-scale
    /// 1e308` and `scaling predict --ranks 9223372036854775807` trapped on overflow (2026-12-02).
    @Test(
        "a depth, batch, step count or rank count past what the other commands build is refused",
        arguments: [
            (["info", "--arch", "resnet", "--depth", "600002"], "depth 600002 is deeper than this trainer builds"),
            (["train", "--arch", "plain", "--depth", "10004", "--data", "generated"], "depth 10004 is deeper than"),
            (["bench", "--arch", "resnet8", "--batch-size", "9223372036854775807"], "--batch-size must be in 1...2,147,483,647"),
            (["bench", "--arch", "resnet8", "--steps", "9223372036854775807"], "--steps must be in 1...1,000,000"),
            (
                ["scaling", "record", "--output", "/nonexistent/t.json", "--warmup-steps", "9223372036854775807"],
                "--warmup-steps must be in 0...1,000,000"
            ),
            (["scaling", "replay", "--trace", "/nonexistent.json", "--time-scale", "1e308"], "--time-scale must be a number in 1...10,000"),
            (
                ["scaling", "predict", "--trace", "/nonexistent.json", "--ranks", "9223372036854775807", "--gbit", "10"],
                "--ranks must be in 1...1,048,576"
            ),
            (
                ["scaling", "predict", "--trace", "/nonexistent.json", "--ranks", "4", "--ranks-per-host", "8", "--gbit", "10"],
                "--ranks-per-host must be in 1...4 (--ranks), got 8"
            ),
        ])
    func sizesBeyondWhatIsBuilt(arguments: [String], message: String) throws {
        expectOneLineError(try run(arguments), status: 64, containing: message)
    }

    /// `--threads 100000` asked for 131 GB of workspaces and aborted with a backtrace (2026-12-02).
    @Test(
        "a thread count no process can run is refused by every command that takes one",
        arguments: [
            ["eval", "--checkpoint", "/nonexistent.safetensors", "--threads", "100000"],
            ["bench", "--arch", "resnet8", "--threads", "100000"],
            ["selftest", "--threads", "100000"],
            ["scaling", "record", "--output", "/nonexistent/t.json", "--threads", "100000"],
        ])
    func threadCountBeyondOneProcess(arguments: [String]) throws {
        expectOneLineError(try run(arguments), status: 64, containing: "--threads 100000 is more than one process runs")
    }

    /// `--batch-size 100000000` asked the allocator for 171 TB of activations and aborted with a
    /// backtrace (2026-12-02); each command that builds a network now checks the machine's memory first.
    @Test(
        "a batch whose activations exceed the machine's memory is refused by every command that takes one",
        arguments: [
            ["train", "--arch", "resnet8", "--data", "generated", "--iterations", "1", "--batch-size", "100000000"],
            ["bench", "--arch", "resnet8", "--batch-size", "100000000"],
            ["scaling", "record", "--arch", "resnet8", "--images-per-rank", "100000000", "--output", "/nonexistent/t.json"],
        ])
    func batchBeyondTheMachinesMemory(arguments: [String]) throws {
        expectOneLineError(try run(arguments), status: 64, containing: "100,000,000 images a rank need")
    }

    @Test func evalBatchBeyondTheMachinesMemoryIsRefused() throws {
        let dir = temporaryDirectory()
        let trained = try run(tiny + ["--iterations", "1", "--output", dir])
        #expect(trained.status == 0, "\(trained.stderr)")
        let checkpoint = try #require(checkpoints(dir).last)
        let out = try run(["eval", "--checkpoint", dir + "/" + checkpoint, "--data", "/nonexistent-cifar10", "--batch-size", "100000000"])
        expectOneLineError(out, status: 64, containing: "--batch-size 100000000: 100,000,000 images a rank need")
    }

    @Test func outputDirectoryOfAnotherRunIsRefusedAndNothingIsLost() throws {
        let dir = temporaryDirectory()
        let first = try run(tiny + ["--iterations", "20", "--checkpoint-every", "5", "--keep", "3", "--output", dir])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(
            checkpoints(dir) == [
                "checkpoint-00000010.safetensors", "checkpoint-00000015.safetensors",
                "checkpoint-00000020.safetensors",
            ])
        let before = try tensorBytes(dir + "/checkpoint-00000020.safetensors")
        // A new run into the same directory, without --resume: refused, the old run untouched.
        let second = try run(tiny + ["--iterations", "5", "--output", dir])
        expectOneLineError(second, status: 65, containing: "holds another run")
        let after = try tensorBytes(dir + "/checkpoint-00000020.safetensors")
        #expect(checkpoints(dir).count == 3 && after == before)
        // --overwrite replaces it: one run's files only, and `latest` names the new checkpoint.
        let replaced = try run(tiny + ["--iterations", "5", "--output", dir, "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(checkpoints(dir) == ["checkpoint-00000005.safetensors"])
        let latest = try String(contentsOfFile: dir + "/latest", encoding: .utf8)
        #expect(latest == "checkpoint-00000005.safetensors\n")
        let metrics = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        #expect(!metrics.contains("\"iteration\":20"), "metrics of the old run are gone, not mixed in")
        // The configuration of the run is written beside it.
        let config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run-config.json")))
            as! [String: Any]
        #expect(config["world_size"] as? Int == 1 && config["global_batch"] as? Int == 16)
        #expect((config["hosts"] as? [String])?.count == 1 && config["version"] as? String != nil)
    }

    @Test func aSecondJobInARunDirectoryInUseIsRefusedAndNothingIsLost() throws {
        let dir = temporaryDirectory()
        let first = try run(tiny + ["--iterations", "8", "--stop-after", "4", "--output", dir])
        #expect(first.status == 0, "\(first.stderr)")
        let checkpointBefore = try tensorBytes(dir + "/checkpoint-00000004.safetensors")
        let metricsBefore = try Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        do {
            // This process stands in for a job still training there (a supervisor started twice).
            let held = try RunDirectoryLock(directory: dir)
            let second = try run(tiny + ["--iterations", "8", "--output", dir, "--resume", "auto"])
            expectOneLineError(
                second, status: 65, containing: "--output \(dir) is in use by another job (pid \(getpid()) on ")
            #expect(checkpoints(dir) == ["checkpoint-00000004.safetensors"])
            #expect(try tensorBytes(dir + "/checkpoint-00000004.safetensors") == checkpointBefore)
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.jsonl")) == metricsBefore)
            withExtendedLifetime(held) {}
        }
        // Once the holder is gone (closing is how an exit or a crash releases it), the job resumes.
        let third = try run(tiny + ["--iterations", "8", "--output", dir, "--resume", "auto"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(checkpoints(dir).contains("checkpoint-00000008.safetensors"))
    }

    @Test func pruningKeepsTheCheckpointJustWritten() throws {
        // A directory whose newer checkpoints belong to an older run (as before this check existed).
        let dir = temporaryDirectory()
        let net = Network(try Architecture.parse("resnet8"), batchCapacity: 1)
        let record = { (iteration: Int) in
            CheckpointMetadata(
                iteration: iteration, seed: 1, warmupDone: true, warmupWindowErrorSum: 0, warmupWindowSteps: 0,
                globalBatch: 16,
                worldSize: 1, batchesPerEpoch: 128, syncBatchNorm: false, learningRate: 0.1,
                schedule: "{}", optimizer: nil)
        }
        let directory = CheckpointDirectory(path: dir, keep: 2)
        for iteration in [10, 15, 20] {
            _ = try directory.save(net, normalization: .pytorchCIFAR10, run: record(iteration))
        }
        let written = try directory.save(net, normalization: .pytorchCIFAR10, run: record(5))
        #expect(FileManager.default.fileExists(atPath: written))
        #expect(checkpoints(dir) == ["checkpoint-00000005.safetensors", "checkpoint-00000020.safetensors"])
        #expect(try String(contentsOfFile: dir + "/latest", encoding: .utf8) == "checkpoint-00000005.safetensors\n")
    }

    @Test func resumeAutoInAnEmptyDirectorySaysSo() throws {
        let dir = temporaryDirectory() + "/new"
        let out = try run(tiny + ["--iterations", "2", "--output", dir, "--resume", "auto"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stderr.contains("--resume auto: no checkpoint in \(dir); starting a new run there"))
    }

    @Test func metadataWithoutChecksumAndANegativeIterationIsRefused() throws {
        let dir = temporaryDirectory()
        try FileManager.default.copyItem(
            atPath: packageRoot + "/Tests/Fuzz/checkpoint-corpus/no-checksum-negative-iteration.safetensors",
            toPath: dir + "/checkpoint-00000002.safetensors")
        let out = try run(tiny + ["--iterations", "12", "--schedule", "constant", "--output", dir, "--resume", "auto"])
        // auto passes over the damaged file (saying why) and starts afresh; an explicit file is an error.
        #expect(out.status == 0 && out.stderr.contains("metadata key 'iteration' is '-5'"), "\(out.stderr)")
        let explicit = try run(
            tiny + [
                "--iterations", "12", "--schedule", "constant",
                "--resume", dir + "/checkpoint-00000002.safetensors",
            ])
        expectOneLineError(
            explicit, status: 65, containing: "metadata key 'iteration' is '-5', not an iteration count >= 0")
    }

    @Test func headerWhoseShapeOverflowsIsRefused() throws {
        let path = packageRoot + "/Tests/Fuzz/checkpoint-corpus/shape-overflow.safetensors"
        #expect { try SafeTensorsFile(path: path) } throws: { isError($0, .damagedCheckpoint, naming: "tensor 'x' has an impossible shape") }
    }

    @Test func theFuzzCorpusReplaysWithoutACrash() throws {
        let exe = try #require(executablePath()).replacingOccurrences(of: "/resnet-dist", with: "/checkpoint-fuzz")
        let corpus = packageRoot + "/Tests/Fuzz/checkpoint-corpus"
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus).sorted().map { corpus + "/" + $0 }
        let out = try runProcess(exe, files)
        #expect(out.status == 0, "\(out.stderr)")
        // The training checkpoint, the exported model and the bare state dict are accepted; the rest refused.
        #expect(out.stdout.contains("\"inputs\":\(files.count),\"accepted\":3"), "\(out.stdout)")
    }

    @Test func divergenceStopsTheRunAndKeepsTheLastGoodCheckpoint() throws {
        let dir = temporaryDirectory()
        let out = try run(
            tiny + [
                "--iterations", "200", "--lr", "1e6", "--checkpoint-every", "1", "--keep", "100",
                "--output", dir,
            ])
        expectOneLineError(out, status: 65, containing: "training diverged at iteration")
        for name in checkpoints(dir) {
            let tensors = try tensorBytes(dir + "/" + name)
            let values = tensors.values.flatMap { data in data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            }
            let finite = values.allSatisfy { $0.isFinite }
            #expect(finite, "\(name) holds a non-finite value")
        }
        // --allow-nonfinite opts out: the same run goes to the end.
        let through = try run(tiny + ["--iterations", "20", "--lr", "1e6", "--allow-nonfinite"])
        #expect(through.status == 0, "\(through.stderr)")
    }

    @Test func slurmTasksThatAreNotOneMPIWorldAreRefused() throws {
        let out = try run(tiny + ["--iterations", "2"], environment: ["SLURM_NTASKS": "4"])
        expectOneLineError(out, status: 65, containing: "SLURM_NTASKS=4 but this process's MPI world has 1 rank")
    }

    @Test func supervisorDoesNotRestartABadFlag() throws {
        let exe = try #require(executablePath())
        let out = try runProcess(
            packageRoot + "/launch/supervise.sh", ["--", exe] + tiny + ["--lr", "-1"], timeout: 60)
        #expect(out.status == 64)
        #expect(!out.stderr.contains("restart 1"), "\(out.stderr)")
        #expect(out.stderr.contains("not restarting"))
    }

    @Test func plotRefusesAMetricsLineItCannotTrust() throws {
        let dir = temporaryDirectory()
        let lines = [
            "{\"kind\":\"train\",\"iteration\":20,\"error\":0.5}",
            "{\"kind\":\"eval\",\"iteration\":20,\"test_error\":7}",
        ]
        try lines.joined(separator: "\n").write(toFile: dir + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let out = try run(["plot", dir, "-o", dir + "/plot.svg"])
        expectOneLineError(out, status: 65, containing: "metrics.jsonl: line 2: key 'test_error' is 7")
        #expect(!FileManager.default.fileExists(atPath: dir + "/plot.svg"))
    }

    /// `plot RUN --output RUN/metrics.csv` replaced the run's records with a figure (2026-12-02): an
    /// existing file that is not what plot writes is refused and keeps its bytes, the same path for
    /// --output and --table is refused, and an existing figure is still replaced.
    @Test func plotNeverReplacesARunsRecords() throws {
        let dir = temporaryDirectory()
        try "{\"kind\":\"train\",\"iteration\":20,\"error\":0.5}\n".write(
            toFile: dir + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        for (flags, message) in [
            (["-o", dir + "/metrics.jsonl"], "--output \(dir)/metrics.jsonl exists and is not a .svg file"),
            (["-o", dir + "/f.svg", "--table", dir + "/metrics.jsonl"], "--table \(dir)/metrics.jsonl exists and is not a .md file"),
            (["-o", dir + "/f.svg", "--table", dir + "/./f.svg"], "--table and --output are the same file"),
        ] {
            expectOneLineError(try run(["plot", dir] + flags), status: 64, containing: message)
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.jsonl")) == before)
        }
        try "old figure".write(toFile: dir + "/f.svg", atomically: true, encoding: .utf8)
        let replaced = try run(["plot", dir, "-o", dir + "/f.svg"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(try String(contentsOfFile: dir + "/f.svg", encoding: .utf8).hasPrefix("<svg"))
    }

    @Test func noArgumentsPrintsHelpAndFails() throws {
        let out = try run([])
        #expect(out.status != 0)
        #expect(out.stdout.contains("SUBCOMMANDS") || out.stderr.contains("SUBCOMMANDS"))
    }
}

/// launch/slurm.sbatch with stand-ins for srun and scontrol: a per-job directory, resume only
/// for a requeued job, and a requeue when the ranks stop on the time-limit signal (status 75).
struct SlurmScriptTests {
    func fakeSlurm() throws -> String {
        let bin = temporaryDirectory("fakeslurm")
        // srun: drop its own options, run the task once; FAKE_SRUN_STATUS overrides the status.
        let srun = """
            #!/usr/bin/env bash
            while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do shift; done
            "$@"; status=$?
            exit ${FAKE_SRUN_STATUS:-$status}
            """
        let scontrol = "#!/usr/bin/env bash\necho \"$@\" >> \"$SLURM_SUBMIT_DIR/scontrol.log\"\n"
        // Written by a child shell, not by this process: a write descriptor open here is
        // inherited by whatever a parallel test forks at that moment, and exec of the script
        // then fails with "Text file busy" (ETXTBSY) until that child execs.
        for (name, text) in [("srun", srun), ("scontrol", scontrol)] {
            let written = try runProcess(
                "/bin/sh", ["-c", "printf '%s\\n' \"$1\" > \"$2\" && chmod 755 \"$2\"", "sh", text, bin + "/" + name])
            #expect(written.status == 0, "\(written.stderr)")
        }
        return bin
    }

    @Test func perJobDirectoryResumeOnRequeueAndRequeueOnStop() throws {
        let exe = try #require(executablePath())
        let bin = try fakeSlurm()
        let submit = temporaryDirectory("submit")
        var env = [
            "PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? ""), "RESNET_DIST": exe,
            "SLURM_SUBMIT_DIR": submit, "SLURM_JOB_NAME": "r8", "SLURM_JOB_ID": "42",
        ]
        let args = ["--arch", "resnet8", "--data", "generated", "--batch-size", "16", "--iterations", "4"]
        let first = try runProcess(packageRoot + "/launch/slurm.sbatch", args, environment: env, timeout: 120)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: submit + "/runs/r8-42/checkpoint-00000004.safetensors"))
        // A second job of the same name gets its own directory (stopped early here, as by a time limit).
        env["SLURM_JOB_ID"] = "43"
        let second = try runProcess(
            packageRoot + "/launch/slurm.sbatch", args + ["--stop-after", "2"],
            environment: env, timeout: 120)
        #expect(second.status == 0 && FileManager.default.fileExists(atPath: submit + "/runs/r8-43/run-config.json"))
        #expect(!FileManager.default.fileExists(atPath: submit + "/runs/r8-42/checkpoint-00000002.safetensors"))
        // Requeued (restart count 1): the job continues its own directory to the end.
        env["SLURM_RESTART_COUNT"] = "1"
        let requeued = try runProcess(packageRoot + "/launch/slurm.sbatch", args, environment: env, timeout: 120)
        #expect(requeued.status == 0 && requeued.stderr.contains("resuming from"), "\(requeued.stderr)")
        #expect(requeued.stderr.contains("r8-43/checkpoint-00000002.safetensors at iteration 2"))
        // Ranks that stopped on the signal (75): the script requeues the job.
        env["FAKE_SRUN_STATUS"] = "75"
        env["SLURM_JOB_ID"] = "44"
        env["SLURM_RESTART_COUNT"] = nil
        let stopped = try runProcess(packageRoot + "/launch/slurm.sbatch", args, environment: env, timeout: 120)
        #expect(stopped.status == 75)
        let log = try String(contentsOfFile: submit + "/scontrol.log", encoding: .utf8)
        #expect(log.contains("requeue 44"))
    }
}
