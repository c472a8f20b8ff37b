import Foundation
import Testing

@testable import ResNet

/// The real launcher: `mpirun` on the built `resnet-dist`, as users run it. Serialized, since each
/// run already fills the machine's cores.
@Suite(.serialized)
struct MPITests {
    let common = ["train", "--arch", "resnet8", "--data", "generated", "--log-every", "5"]

    func requireLauncher() throws {
        try #require(mpirunAvailable, "mpirun not found (apt-get install openmpi-bin)")
        try #require(executablePath() != nil, "resnet-dist not built (swift build -c release -Xswiftc -enable-testing)")
    }

    func decode(_ output: ProcessOutput) throws -> [String: Any] {
        let line = try #require(
            output.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
            "no JSON result; stderr: \(output.stderr.suffix(2000))")
        return try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
    }

    @Test("replicas stay bitwise identical under mpirun", arguments: [2, 3])
    func replicasIdentical(ranks: Int) throws {
        try requireLauncher()
        let out = try mpirun(ranks, common + ["--batch-size", "12", "--iterations", "20", "--json"])
        #expect(out.status == 0, "\(out.stderr.suffix(2000))")
        let result = try decode(out)
        #expect(result["replicas_identical"] as? Bool == true)
        #expect(result["iterations"] as? Int == 20)
    }

    @Test("bench under mpirun: rank 0 reports the whole job, its wait split into communication and imbalance")
    func benchReportsTheJob() throws {
        try requireLauncher()
        let out = try mpirun(
            2, ["bench", "--arch", "resnet8", "--batch-size", "8", "--steps", "3", "--warmup-steps", "1", "--json"])
        #expect(out.status == 0, "\(out.stderr.suffix(2000))")
        let result = try decode(out)
        #expect(result["ranks"] as? Int == 2)
        let step = try #require(result["step_seconds_median"] as? Double)
        let compute = try #require(result["compute_seconds_per_rank"] as? [Double])
        let rss = try #require(result["peak_rss_bytes_per_rank"] as? [Int])
        #expect(compute.count == 2 && rss.count == 2 && rss.allSatisfy { $0 > 0 })
        #expect(compute.allSatisfy { $0 > 0 && $0 <= step }, "compute \(compute) within the step \(step)")
        let communication = try #require(result["communication_share"] as? Double)
        let imbalance = try #require(result["imbalance_share"] as? Double)
        #expect(communication >= 0 && imbalance >= 0 && communication + imbalance < 1)
        #expect(abs((result["images_per_s"] as? Double ?? 0) - 8 / step) < 1e-9 * (8 / step))
    }

    @Test("MPI runs with the shim's ring and eager limit, and a user's --mca values win")
    func transportDefaultsReachMPI() throws {
        try requireLauncher()
        let bench = ["bench", "--arch", "resnet8", "--batch-size", "4", "--steps", "1", "--warmup-steps", "1", "--json"]
        let byDefault = try mpirun(2, bench)
        #expect(byDefault.status == 0, "\(byDefault.stderr.suffix(2000))")
        let defaults = try #require(try decode(byDefault)["mpi_settings"] as? [String: Int])
        #expect(defaults == ["coll_libnbc_iallreduce_algorithm": 1, "btl_tcp_eager_limit": 1_048_576])
        let mca = ["--mca", "btl_tcp_eager_limit", "65536", "--mca", "coll_libnbc_iallreduce_algorithm", "2"]
        let chosen = try mpirun(2, bench, extra: mca)
        #expect(chosen.status == 0, "\(chosen.stderr.suffix(2000))")
        let settings = try #require(try decode(chosen)["mpi_settings"] as? [String: Int])
        #expect(settings == ["coll_libnbc_iallreduce_algorithm": 2, "btl_tcp_eager_limit": 65536])
    }

    func floats(_ file: SafeTensorsFile, _ name: String) -> [Float]? {
        guard let t = file.tensors[name] else { return nil }
        return file.data.subdata(in: t.range).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// Model tensors (weights and BN statistics) of a checkpoint.
    func modelTensors(_ file: SafeTensorsFile) -> [String] {
        file.tensors.keys.filter { !$0.hasPrefix("optimizer.") && !$0.hasPrefix("normalization.") }.sorted()
    }

    // See ReplicaTests.syncBatchNormEquivalence for why one step is compared per tensor and ten
    // steps on the whole trajectory.
    @Test("sync BN: N ranks x 4 images equal 1 rank x 4N under mpirun", arguments: [2, 3])
    func syncBatchNorm(ranks: Int) throws {
        try requireLauncher()
        let dir = temporaryDirectory("syncbn\(ranks)")
        func train(_ n: Int, iterations: Int, lr: String, sync: Bool, _ name: String) throws -> SafeTensorsFile {
            let args =
                common + [
                    "--batch-size", "\(4 * ranks)", "--iterations", "\(iterations)", "--lr", lr,
                    "--schedule", "constant", "--output", dir + "/" + name,
                ] + (sync ? ["--sync-bn"] : [])
            let out = try mpirun(n, args)
            #expect(out.status == 0, "\(out.stderr.suffix(1500))")
            return try SafeTensorsFile(
                path: dir + "/\(name)/" + String(format: "checkpoint-%08d.safetensors", iterations))
        }
        // One step at lr 1: parameters differ by the gradients' difference; statistics by the batch's.
        let a = try train(1, iterations: 1, lr: "1", sync: false, "one1")
        let b = try train(ranks, iterations: 1, lr: "1", sync: true, "many1")
        for name in modelTensors(a) {
            let x = try #require(floats(a, name))
            let y = try #require(floats(b, name))
            let scale = max(x.map(abs).max()!, 1e-6)
            let diff = zip(x, y).map { abs($0 - $1) }.max()!
            #expect(diff / scale < 1e-5, "\(name): relative difference \(diff / scale) after one step")
        }
        // Ten steps: the trajectories agree to 3e-2 of their length (ReLU flips, see ReplicaTests).
        let start = try train(1, iterations: 1, lr: "0", sync: false, "initial")
        let c = try train(1, iterations: 10, lr: "0.02", sync: false, "one10")
        let d = try train(ranks, iterations: 10, lr: "0.02", sync: true, "many10")
        var diff = 0.0
        var moved = 0.0
        for name in modelTensors(c) where !name.contains("running_") {
            let x0 = try #require(floats(start, name))
            let x = try #require(floats(c, name))
            let y = try #require(floats(d, name))
            for i in x.indices {
                diff += Double(x[i] - y[i]) * Double(x[i] - y[i])
                moved += Double(x[i] - x0[i]) * Double(x[i] - x0[i])
            }
        }
        print("sync BN under mpirun, \(ranks) ranks: ten steps \((diff / moved).squareRoot())")
        #expect(
            (diff / moved).squareRoot() < 3e-2, "trajectories differ by \((diff / moved).squareRoot()) of their length")
    }

    /// 66 images at global batch 32: batches of 32, 32 and 2. 32 is not divisible by 3; in the
    /// 2-image batch every rank but two holds nothing. Constant lr, no evaluation until the end.
    let shortEpochs = [
        "train", "--arch", "resnet8", "--data", "generated", "--train-subset", "66", "--batch-size", "32",
        "--schedule", "constant", "--lr", "0.02", "--eval-every", "1000", "--json",
    ]

    func losses(_ output: ProcessOutput) throws -> [Double] {
        #expect(output.status == 0, "\(output.stderr.suffix(2000))")
        let result = try decode(output)
        #expect(result["replicas_identical"] as? Bool == true)
        return try #require(result["first_losses"] as? [Double])
    }

    func worstRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        #expect(a.count == b.count)
        return zip(a, b).map { abs($0 - $1) / abs($0) }.max() ?? .infinity
    }

    /// Many ranks on one machine, every one issuing the same collectives whatever its shard holds:
    /// with sync BN the losses of 9 steps (3 epoch ends with idle ranks) equal one process's to the
    /// rounding of sums in another order; with per-rank BN the run finishes with identical replicas.
    @Test("N ranks agree with one: any world size, idle ranks at epoch ends", arguments: [3, 4, 8, 16])
    func manyRanksAgreeWithOne(ranks: Int) throws {
        try requireLauncher()
        let one = try losses(try mpirun(1, shortEpochs + ["--iterations", "9"]))
        let synced = try losses(try mpirun(ranks, shortEpochs + ["--iterations", "9", "--sync-bn"]))
        let worst = worstRelativeDifference(one, synced)
        print("\(ranks) ranks, sync BN: 9 losses within \(worst) (relative) of 1 rank")
        #expect(worst < 1e-4, "\(ranks) ranks: losses \(synced) against \(one)")
        let perRank = try losses(try mpirun(ranks, shortEpochs + ["--iterations", "9"]))
        #expect(perRank.count == 9 && perRank.allSatisfy(\.isFinite))
    }

    /// Elastic resume: a checkpoint written by 16 ranks continues on 3, and the whole run gives
    /// one process's losses (sync BN) to the same rounding.
    @Test func checkpointOf16RanksResumesOn3() throws {
        try requireLauncher()
        let dir = temporaryDirectory()
        let one = try losses(try mpirun(1, shortEpochs + ["--iterations", "9"]))
        let first = try losses(
            try mpirun(16, shortEpochs + ["--iterations", "9", "--sync-bn", "--stop-after", "4", "--output", dir]))
        let rest = try losses(try mpirun(3, shortEpochs + ["--iterations", "9", "--sync-bn", "--resume", "auto", "--output", dir]))
        let worst = worstRelativeDifference(one, first + rest)
        print("16 ranks to iteration 4, then 3 ranks to 9, sync BN: within \(worst) of 1 rank")
        #expect(first.count == 4 && rest.count == 5)
        #expect(worst < 1e-4, "losses \(first + rest) against \(one)")
    }

    @Test func twoHostsInNetworkNamespacesOverTCP() throws {
        try requireLauncher()
        let exe = try #require(executablePath())
        let out = try runProcess(
            packageRoot + "/launch/two-hosts-netns.sh",
            ["--arch", "resnet8", "--data", "generated", "--batch-size", "16", "--iterations", "10", "--json"],
            environment: ["RESNET_DIST": exe], timeout: 180)
        #expect(out.status == 0, "\(out.stderr.suffix(3000))")
        #expect(out.stderr.contains("starting the MPI daemon of host 10.231.0.2 in namespace rd-host-b"))
        // Each rank on a core of its own, not both on core 0 as each namespace's daemon would bind them.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        #expect(
            out.stderr.contains("rank 0 pinned to core 0") && out.stderr.contains("rank 1 pinned to core \(1 % cores)"))
        let result = try decode(out)
        #expect(result["replicas_identical"] as? Bool == true)
        #expect(result["iterations"] as? Int == 10)
    }

    @Test func failingRankEndsTheJobWithinSeconds() throws {
        try requireLauncher()
        let out = try mpirun(
            2, common + ["--batch-size", "16", "--iterations", "100000", "--inject-failure", "1:3"], timeout: 120)
        #expect(out.status != 0)
        #expect(out.seconds < 30, "took \(out.seconds) s")
        #expect(out.stderr.contains("error: rank 1: injected failure at iteration 3"))
    }

    @Test func resumeUnderMpirunIsBitIdentical() throws {
        try requireLauncher()
        let dir = temporaryDirectory()
        let args = common + ["--batch-size", "16", "--iterations", "12"]
        let straight = try mpirun(2, args + ["--output", dir + "/straight"])
        let first = try mpirun(2, args + ["--output", dir + "/split", "--stop-after", "6"])
        let second = try mpirun(2, args + ["--output", dir + "/split", "--resume", "auto"])
        #expect(straight.status == 0 && first.status == 0 && second.status == 0, "\(second.stderr.suffix(2000))")
        #expect(second.stderr.contains("resuming from"))
        let a = try tensorBytes(dir + "/straight/checkpoint-00000012.safetensors")
        let b = try tensorBytes(dir + "/split/checkpoint-00000012.safetensors")
        #expect(a.count > 30 && a == b)
    }

    /// Kills one rank (SIGKILL) at three points of a supervised run: after the first checkpoint,
    /// in the middle of an epoch, and inside a checkpoint write (between the complete temporary
    /// file and its rename). The supervisor restarts from the newest good checkpoint each time;
    /// the final weights, statistics and momentum equal the uninterrupted run's, byte for byte.
    @Test func supervisorRestartsAfterSIGKILLAtThreePointsAndFinishesIdentically() throws {
        try requireLauncher()
        let dir = temporaryDirectory()
        let exe = try #require(executablePath())
        let args = common + ["--batch-size", "16", "--iterations", "300", "--checkpoint-every", "20", "--keep", "2"]
        let reference = try mpirun(2, args + ["--output", dir + "/reference"])
        #expect(reference.status == 0)

        let env = [
            "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OPENBLAS_NUM_THREADS": "1",
            "RESNET_DIST": exe, "RESNET_DIST_TEST_WRITE_PAUSE_MS": "150",
        ]
        let output = dir + "/supervised"
        let kills = Locked<[String]>([])
        @Sendable func ranks() -> [Int32] {
            // The rank processes themselves (argv[0] is the binary), not mpirun or the scripts. Read
            // from /proc, not with pgrep: a child process and its pipes, spawned while the supervised
            // run and other suites' processes start, once left this thread waiting until the run had
            // ended (CI, stop 34: no kill at all in a 300-iteration run).
            trainingProcesses(writingTo: output)
        }
        @Sendable func iterationsLogged() -> Int { lastIterationLogged(in: output) ?? 0 }
        let looks = Locked<(polls: Int, ranksSeen: Int)>((0, 0))
        let killer = Thread {
            let deadline = Date().addingTimeInterval(240)
            var stage = 0
            while Date() < deadline && stage < 3 {
                let pids = ranks()
                let files = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
                looks.update { $0 = ($0.polls + 1, max($0.ranksSeen, pids.count)) }
                let newestCheckpoint = CheckpointDirectory(path: output).existing().first?.iteration ?? 0
                var victim: Int32?
                var point = ""
                switch stage {
                case 0 where newestCheckpoint >= 40 && iterationsLogged() < 120:
                    victim = pids.last
                    point = "after the checkpoint of iteration \(newestCheckpoint)"
                case 1 where iterationsLogged() >= 130 && iterationsLogged() % 20 != 0:
                    victim = pids.last
                    point = "in the middle of epoch 2 (iteration \(iterationsLogged()))"
                case 2
                where iterationsLogged() >= 200
                    && files.contains { $0.contains(".tmp-") && $0.hasPrefix(".checkpoint-") }:
                    victim = pids.first
                    point = "during a checkpoint write"
                default: break
                }
                if let victim, pids.count == 2 {
                    kill(victim, SIGKILL)
                    kills.update { $0.append(point) }
                    stage += 1
                    // Wait for the restart before looking for the next point.
                    while Date() < deadline && ranks().count > 0 { usleep(20_000) }
                }
                usleep(2_000)
            }
        }
        killer.start()
        let supervised = try runProcess(
            packageRoot + "/launch/supervise.sh",
            ["--max-restarts", "5", "--max-backoff", "1", "--", packageRoot + "/launch/local.sh", "2"]
                + args + ["--output", output],
            environment: env, timeout: 400)
        #expect(supervised.status == 0, "\(supervised.stderr.suffix(3000))")
        #expect(
            kills.value.count == 3,
            "killed at: \(kills.value); \(looks.value.polls) looks, at most \(looks.value.ranksSeen) rank processes seen")
        #expect(supervised.stderr.contains("restart 3"), "three restarts; killed at: \(kills.value)")
        let a = try tensorBytes(dir + "/reference/checkpoint-00000300.safetensors")
        let b = try tensorBytes(output + "/checkpoint-00000300.safetensors")
        #expect(a.count > 30 && a == b, "final weights, statistics and momentum byte-identical")
    }

    /// SIGTERM to mpirun in the middle of an epoch: every rank finishes its step, they agree on
    /// the stop, rank 0 writes a checkpoint of that iteration, and the job ends within 10 s. The
    /// run resumed from it ends byte-identical to an uninterrupted one.
    @Test func sigtermUnderMpirunCheckpointsAndResumesIdentically() throws {
        try requireLauncher()
        let dir = temporaryDirectory()
        let exe = try #require(executablePath())
        let args = common + ["--batch-size", "16", "--iterations", "400", "--log-every", "1"]
        let straight = try mpirun(2, args + ["--output", dir + "/straight"])
        #expect(straight.status == 0, "\(straight.stderr.suffix(2000))")

        let output = dir + "/stopped"
        let job = try startMpirun(2, [exe] + args + ["--output", output])
        // Wait until the run is past the first epoch (128 iterations) and not on a checkpoint.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: output + "/metrics.jsonl", encoding: .utf8)) ?? ""
            if text.contains("\"iteration\":150,") { break }
            usleep(5_000)
        }
        let signalled = Date()
        kill(job.processIdentifier, SIGTERM)
        while job.isRunning && Date().timeIntervalSince(signalled) < 30 { usleep(10_000) }
        let took = Date().timeIntervalSince(signalled)
        #expect(!job.isRunning && took < 10, "the job took \(took) s to end")
        if job.isRunning { kill(job.processIdentifier, SIGKILL) }
        let written = try CheckpointDirectory(path: output).existing()
        let stop = try #require(written.first?.iteration)
        // The newest checkpoint is of the last step run (logged every step), past iteration 150. On a
        // slow machine the signal may land on an epoch's end (256): what matters is that the run wrote
        // the checkpoint of the step it stopped at, not that of an earlier epoch's end.
        let lastLogged = lastIterationLogged(in: output)
        #expect(
            stop > 150 && stop < 400 && stop == lastLogged,
            "checkpoint at the stop iteration \(stop), the last logged \(lastLogged ?? -1)")
        let record = try Checkpoint.load(written.first!.path).run
        #expect(record?.iteration == stop)

        let resumed = try mpirun(2, args + ["--output", output, "--resume", "auto"])
        #expect(resumed.status == 0 && resumed.stderr.contains("resuming from"), "\(resumed.stderr.suffix(2000))")
        let a = try tensorBytes(dir + "/straight/checkpoint-00000400.safetensors")
        let b = try tensorBytes(output + "/checkpoint-00000400.safetensors")
        #expect(a.count > 30 && a == b, "byte-identical to the uninterrupted run")
    }

    @Test func usr1UnderMpirunStopsWithStatus75() throws {
        try requireLauncher()
        let dir = temporaryDirectory()
        let exe = try #require(executablePath())
        let job = try startMpirun(
            2,
            [exe] + common + [
                "--batch-size", "16", "--iterations", "100000", "--log-every", "1",
                "--output", dir,
            ], stderr: dir + ".stderr")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline,
            !((try? String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)) ?? "").contains(
                "\"iteration\":30,")
        {
            usleep(5_000)
        }
        kill(job.processIdentifier, SIGUSR1)  // what Slurm's --signal=USR1@120 sends
        job.waitUntilExit()
        #expect(job.terminationStatus == 75)
        let newest = CheckpointDirectory(path: dir).existing().first?.iteration ?? 0
        #expect(newest >= 30)
        // Its last line says it stopped, not that it is done.
        let log = (try? String(contentsOfFile: dir + ".stderr", encoding: .utf8)) ?? ""
        #expect(log.contains("stopped by SIGUSR1: ") && !log.contains("done: "), "\(log.suffix(1000))")
    }

    /// SIGTERM to launch/local.sh while the ranks evaluate (a pass far longer than mpirun's one
    /// second between its own SIGTERM and SIGKILL): local.sh passes it on as SIGUSR1, the ranks
    /// finish, rank 0 writes a checkpoint, and the job exits 75.
    @Test func sigtermToLocalShDuringAnEvaluationCheckpoints() throws {
        try requireLauncher()
        let dir = temporaryDirectory()
        let exe = try #require(executablePath())
        let job = Process()
        job.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        job.arguments = withSignalsUnblocked(
            [packageRoot + "/launch/local.sh", "--oversubscribe", "2"] + common + [
                "--batch-size", "16", "--iterations", "100000", "--eval-every", "40", "--output", dir,
            ])
        job.environment = ProcessInfo.processInfo.environment.merging(["RESNET_DIST": exe]) { $1 }
        job.standardOutput = FileHandle.nullDevice
        job.standardError = FileHandle.nullDevice
        try job.run()
        // Signal right after the first evaluation starts (its metrics line comes after it ends).
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline,
            !((try? String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)) ?? "").contains(
                "\"iteration\":40,")
        {
            usleep(2_000)
        }
        kill(job.processIdentifier, SIGTERM)
        job.waitUntilExit()
        #expect(job.terminationStatus == 75)
        let newest = CheckpointDirectory(path: dir).existing().first?.iteration ?? 0
        #expect(newest >= 40, "a checkpoint at the stop, after the evaluation")
    }

    @Test func anArgumentErrorUnderMpirunIsOneLineWithoutAbortBanner() throws {
        try requireLauncher()
        let bad = try mpirun(2, common + ["--lr", "-1"])
        #expect(bad.status != 0)
        #expect(bad.stderr.components(separatedBy: "Error:").count - 1 == 1, "\(bad.stderr)")
        #expect(!bad.stderr.contains("MPI_ABORT"), "\(bad.stderr)")
        let missing = try mpirun(2, common.filter { $0 != "generated" && $0 != "--data" } + ["--data", "/nowhere"])
        #expect(missing.status != 0)
        #expect(missing.stderr.components(separatedBy: "error:").count - 1 == 1, "\(missing.stderr)")
        #expect(!missing.stderr.contains("MPI_ABORT"), "\(missing.stderr)")
    }
}

/// The largest iteration in a run directory's metrics.jsonl (nil before the first line).
/// The process IDs of `resnet-dist train` ranks whose arguments name `output`, read from /proc.
private func trainingProcesses(writingTo output: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).sorted().filter { pid in
        guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let argv = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return argv.count > 1 && argv[0].hasSuffix("resnet-dist") && argv[1] == "train" && argv.contains(output)
    }
}

private func lastIterationLogged(in directory: String) -> Int? {
    let text = (try? String(contentsOfFile: directory + "/metrics.jsonl", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line -> Int? in
        guard let range = line.range(of: "\"iteration\":") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }.max()
}
