import ArgumentParser
import Distributed
import Foundation
import Kernels
import ResNet

/// How a step scales over ranks and links: record one rank's step, replay it on many ranks over
/// real MPI (the emulation), or predict it with the alpha-beta model (docs/RESULTS.md, issue 21).
struct Scaling: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scaling over ranks and links: record a step's trace, replay it under mpirun, or predict it.",
        subcommands: [Record.self, Replay.self, Predict.self])

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time one rank's step on random data and write when each gradient bucket could start (JSON).")

        @OptionGroup var model: ModelOptions

        @Option(name: .customLong("images-per-rank"), parsing: .unconditional, help: "Images in the rank's shard.")
        var imagesPerRank = 64

        @Option(parsing: .unconditional, help: "Threads of the rank (default 1).")
        var threads = 1

        @Option(help: "Timed steps (the trace holds their medians).")
        var steps = 10

        @Option(name: .customLong("warmup-steps"), help: "Untimed steps first.")
        var warmupSteps = 2

        @Option(help: "Where to write the trace.")
        var output: String

        func validate() throws {
            try require(imagesPerRank >= 1, "--images-per-rank must be at least 1, got \(imagesPerRank)")
            try ThreadCount.validate(threads)
            try requireTimedSteps(steps, warmup: warmupSteps)
        }

        func run() throws {
            let architecture = try model.architecture()
            try Network.requireMemory(for: architecture, images: imagesPerRank, what: "--images-per-rank \(imagesPerRank)")
            let network = Network(architecture, batchCapacity: imagesPerRank, threads: threads)
            network.initialize(seed: 1)
            let trace = try StepTrace.record(
                network: network, images: imagesPerRank, optimizer: SGD(), steps: steps, warmup: warmupSteps,
                machine: "\(cpuModelName()), \(InstructionSet.built.name)")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(trace), to: output)
            print(
                String(
                    format: "%@, %d images, %d thread(s): compute %.4f s, update %.4f s, %d reports; wrote %@",
                    trace.architecture.description, imagesPerRank, threads, trace.computeSeconds, trace.updateSeconds,
                    trace.readies.count, output))
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Under mpirun: every rank replays a recorded step (sleeping instead of computing) around the real bucketed all-reduce; prints the median step.")

        @Option(help: "A trace written by `scaling record`.")
        var trace: String

        @Option(help: "Timed steps.")
        var steps = 10

        @Option(name: .customLong("warmup-steps"), help: "Untimed steps first.")
        var warmupSteps = 2

        @Option(
            name: .customLong("time-scale"), parsing: .unconditional,
            help:
                "Time dilation K: replay every moment K times later and report steps in the emulated time; shape the links to 1/K of the rate to emulate (bench/scaling-emulation.sh does both).")
        var timeScale = 1.0

        @Option(
            name: .customLong("poll-us"), parsing: .unconditional,
            help: "Wall microseconds a rank waiting for its reductions sleeps between polls.")
        var pollMicroseconds = 100.0

        @OptionGroup(title: "Distribution") var distribution: DistributionOptions

        @Flag(help: "Print one JSON object.")
        var json = false

        func validate() throws {
            // Bounded so that the replay's sleeps stay whole numbers of nanoseconds (--time-scale 1e308 trapped).
            try require(
                timeScale.isFinite && timeScale >= 1 && timeScale <= 10_000,
                "--time-scale must be a number in 1...10,000, got \(timeScale)")
            try require(
                pollMicroseconds.isFinite && pollMicroseconds > 0 && pollMicroseconds <= 1_000_000,
                "--poll-us must be a number in (0, 1,000,000], got \(pollMicroseconds)")
            try requireTimedSteps(steps, warmup: warmupSteps)
            // A trace holds no batch-norm collectives (recorded on one rank): nothing to replay them by.
            try require(!distribution.syncBN, "--sync-bn is not replayed: record and replay per-rank batch norm")
            try require(distribution.bnGroup == nil, "--bn-group is not replayed: it changes the compute, record it instead")
        }

        func run() throws {
            let trace = try loadTrace(self.trace)
            try withCommunicator { communicator in
                let network = Network(trace.architecture, batchCapacity: 1)
                let plan = GradientBucketPlan(parameters: network.store.parameters, bucketMiB: distribution.bucketMB)
                let replay = StepReplay(
                    trace: trace, store: network.store, communicator: communicator, plan: plan,
                    bfloat16: distribution.allreducePrecision == .bf16, timeScale: timeScale,
                    pollInterval: pollMicroseconds * 1e-6)
                var times: [Double] = []
                for index in 0..<(warmupSteps + steps) {
                    try communicator.barrier()
                    let seconds = try replay.step()
                    if index >= warmupSteps { times.append(seconds) }
                }
                guard communicator.isCoordinator else { return }
                let step = times.sorted()[times.count / 2]
                let fields: [String: Any] = [
                    "arch": trace.architecture.description, "ranks": communicator.size, "images_per_rank": trace.imagesPerRank,
                    "buckets": plan.buckets.count, "bucket_mb": distribution.bucketMB,
                    "step_seconds_median": step, "compute_seconds": trace.computeSeconds,
                    "exposed_seconds": step - trace.computeSeconds - trace.updateSeconds, "steps": steps,
                    "time_scale": timeScale, "poll_us": pollMicroseconds,
                ]
                if json { printJSON(fields) } else {
                    print(
                        String(
                            format: "%@ replayed on %d ranks (%d buckets): step %.4f s (median of %d), compute %.4f s",
                            trace.architecture.description, communicator.size, plan.buckets.count, step, steps, trace.computeSeconds))
                }
            }
        }
    }

    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The alpha-beta model's step time for a recorded trace on N ranks.")

        @Option(help: "A trace written by `scaling record`.")
        var trace: String

        @Option(parsing: .unconditional, help: "Ranks.")
        var ranks: Int

        @Option(name: .customLong("ranks-per-host"), parsing: .unconditional, help: "Ranks on each host (block mapping).")
        var ranksPerHost = 1

        @Option(parsing: .unconditional, help: "Network bandwidth between hosts, Gbit/s (payload).")
        var gbit: Double

        @Option(name: .customLong("latency-us"), parsing: .unconditional, help: "Network latency per message, microseconds.")
        var latencyMicroseconds = 50.0

        @Option(name: .customLong("shm-gbit"), parsing: .unconditional, help: "Shared-memory bandwidth inside a host, Gbit/s.")
        var sharedMemoryGbit = 40.0

        @Option(
            name: .customLong("shm-latency-us"), parsing: .unconditional,
            help: "Shared-memory latency per message, microseconds.")
        var sharedMemoryLatency = 2.0

        @Option(help: "binomial, ring or rabenseifner. (default: ring, what the trainer has OpenMPI's libnbc take; libnbc's own choice for the trainer's in-place call would be binomial)")
        var algorithm: String?

        @Option(name: .customLong("bucket-mb"), parsing: .unconditional, help: "Gradient bucket size, MiB.")
        var bucketMB = GradientBucketPlan.defaultMiB

        @Flag(help: "Print one JSON object.")
        var json = false

        func validate() throws {
            // The model's rounds grow with the ranks (a ring has 2(N-1)): a million ranks is past any
            // cluster and still answers in seconds.
            try require((1...1_048_576).contains(ranks), "--ranks must be in 1...1,048,576, got \(ranks)")
            try require(
                (1...ranks).contains(ranksPerHost), "--ranks-per-host must be in 1...\(ranks) (--ranks), got \(ranksPerHost)")
            // A negative latency or an infinite link would be a prediction of nonsense, not an error.
            try require(gbit.isFinite && gbit > 0, "--gbit must be a finite number > 0, got \(gbit)")
            try require(
                latencyMicroseconds.isFinite && latencyMicroseconds >= 0,
                "--latency-us must be a finite number >= 0, got \(latencyMicroseconds)")
            try require(
                sharedMemoryGbit.isFinite && sharedMemoryGbit > 0,
                "--shm-gbit must be a finite number > 0, got \(sharedMemoryGbit)")
            try require(
                sharedMemoryLatency.isFinite && sharedMemoryLatency >= 0,
                "--shm-latency-us must be a finite number >= 0, got \(sharedMemoryLatency)")
            try DistributionOptions.requireBucketSize(bucketMB)
            try require(
                algorithm.map { ScalingModel.Algorithm(rawValue: $0) != nil } ?? true,
                "--algorithm must be binomial, ring or rabenseifner, got '\(algorithm ?? "")'")
        }

        func run() throws {
            let trace = try loadTrace(self.trace)
            let network = Network(trace.architecture, batchCapacity: 1)
            let plan = GradientBucketPlan(parameters: network.store.parameters, bucketMiB: bucketMB)
            let model = ScalingModel(
                network: .gigabits(gbit, latency: latencyMicroseconds * 1e-6),
                sharedMemory: .gigabits(sharedMemoryGbit, latency: sharedMemoryLatency * 1e-6),
                algorithm: algorithm.flatMap(ScalingModel.Algorithm.init(rawValue:)))
            let step = model.step(trace, plan: plan, ranks: ranks, ranksPerHost: ranksPerHost)
            let fields: [String: Any] = [
                "arch": trace.architecture.description, "ranks": ranks, "ranks_per_host": ranksPerHost, "gbit": gbit,
                "images_per_rank": trace.imagesPerRank, "step_seconds": step.seconds,
                "exposed_seconds": step.exposedCommunication, "buckets": plan.buckets.count,
                "slot_wait_seconds": step.slotWaitSeconds, "algorithm": algorithm ?? "trainer",
            ]
            if json { printJSON(fields) } else {
                print(
                    String(
                        format: "%@ on %d ranks (%d a host) at %.3g Gbit/s: step %.4f s, exposed communication %.4f s",
                        trace.architecture.description, ranks, ranksPerHost, gbit, step.seconds, step.exposedCommunication))
            }
        }
    }
}

/// A trace file written by `scaling record`, or one clear error.
func loadTrace(_ path: String) throws -> StepTrace {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ResNetError(.data, "\(path): cannot read the trace (write one with `resnet-dist scaling record`)")
    }
    do { return try JSONDecoder().decode(StepTrace.self, from: data) } catch {
        throw ResNetError(.data, "\(path): not a step trace written by `resnet-dist scaling record`")
    }
}

/// The CPU's model name from /proc/cpuinfo, or "unknown CPU".
func cpuModelName() -> String {
    let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let line = text.split(separator: "\n").first { $0.hasPrefix("model name") }
    return line.flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) }
        ?? "unknown CPU"
}
