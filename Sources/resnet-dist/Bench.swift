import ArgumentParser
import Distributed
import Foundation
import Kernels
import ResNet

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Training-step throughput on random data (median over timed steps after warm-up).")

    @OptionGroup var model: ModelOptions

    @Option(name: .customLong("batch-size"), help: "Global batch size.")
    var batchSize = 128

    @Option(help: "Threads per rank.")
    var threads = 1

    @Option(help: "Timed steps.")
    var steps = 10

    @Option(name: .customLong("warmup-steps"), help: "Untimed steps first.")
    var warmupSteps = 2

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let communicator: Communicator
        do {
            communicator = MPICommunicator.launchedByMPI ? try MPICommunicator() : SingleProcessCommunicator()
        } catch { fail(error) }
        do {
            try bench(communicator)
            (communicator as? MPICommunicator)?.finalize()
        } catch { fail(error, communicator: communicator) }
    }

    func bench(_ communicator: Communicator) throws {
        BLASThreads.set(1)
        let architecture = try model.architecture()
        let world = communicator.size
        guard batchSize % world == 0 else {
            throw ConfigurationError("global batch \(batchSize) is not divisible by the world size \(world)")
        }
        let local = batchSize / world
        let network = Network(architecture, batchCapacity: local, threads: threads)
        network.initialize(seed: 1)
        var rng = SplitMix64(seed: UInt64(communicator.rank + 7))
        for i in 0..<(local * network.imageFloats) { network.inputImages[i] = rng.nextNormal() }
        for i in 0..<local { network.inputLabels[i] = Int32(rng.next() % 10) }
        let sgd = SGD()
        var times: [Double] = [], reduceTimes: [Double] = [], computeTimes: [Double] = []
        let profile = StepProfile()
        let buckets = GradientBuckets(communicator: communicator, store: network.store)
        buckets.attach(to: network)
        for step in 0..<(warmupSteps + steps) {
            if step == warmupSteps { network.profile = profile }
            try communicator.barrier()
            let t0 = monotonicSeconds()
            buckets.begin()
            network.trainStep(batch: local, gradScale: 1 / Float(batchSize))
            let t1 = monotonicSeconds()
            // What remains of the all-reduce after backward (buckets started during it).
            try profile.measure(.allReduce) { try buckets.finish() }
            let t2 = monotonicSeconds()
            profile.measure(.optimizer) { sgd.step(network.store, learningRate: 0.01) }
            let t3 = monotonicSeconds()
            if step >= warmupSteps { times.append(t3 - t0); reduceTimes.append(t2 - t1); computeTimes.append(t1 - t0) }
        }
        // The job's step time is its slowest rank's: gather every rank's medians by summing slots.
        let stepMedian = median(times), reduceMedian = median(reduceTimes)
        var perRank = [Double](repeating: 0, count: world * 3)
        perRank[communicator.rank * 3] = stepMedian
        perRank[communicator.rank * 3 + 1] = reduceMedian
        perRank[communicator.rank * 3 + 2] = median(computeTimes)
        try perRank.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        let slowest = stride(from: 0, to: world * 3, by: 3).map { perRank[$0] }
        let computePerRank = stride(from: 2, to: world * 3, by: 3).map { perRank[$0] }
        let jobStep = slowest.max()!
        let allReduceShare = stride(from: 1, to: world * 3, by: 3).map { perRank[$0] }.max()! / jobStep
        let wait = try WaitSplit(reduceTimes, communicator: communicator)
        let rss = peakResidentBytes()
        var rssAll = [Int64](repeating: 0, count: world)
        rssAll[communicator.rank] = Int64(rss)
        try rssAll.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        guard communicator.rank == 0 else { return }
        let imagesPerSecond = Double(batchSize) / jobStep
        let flops = 3 * 2 * Double(network.macsPerImage) * Double(batchSize)
        let gflops = flops / jobStep / 1e9
        let peak = measureSgemmGFLOPS()
        let breakdown = StepProfile.Kind.allCases.compactMap { kind -> [String: Any]? in
            guard let seconds = profile.seconds[kind] else { return nil }
            var entry: [String: Any] = ["kind": kind.rawValue, "seconds_per_step": seconds / Double(steps),
                                        "share": seconds / Double(steps) / median(times)]
            if let f = profile.flops[kind] { entry["gflops"] = f / seconds / 1e9 }
            return entry
        }
        if json {
            printJSON(["breakdown": breakdown, "arch": architecture.description, "batch_size": batchSize, "ranks": world, "threads": threads,
                       "images_per_s": imagesPerSecond, "step_seconds_median": jobStep,
                       "allreduce_share": allReduceShare,
                       "communication_share": wait.communication / jobStep, "compute_seconds_per_rank": computePerRank, "imbalance_share": wait.imbalance / jobStep,
                       "effective_gflops": gflops, "sgemm_gflops": peak,
                       "peak_rss_bytes": Int(rssAll.max()!), "peak_rss_bytes_per_rank": rssAll.map(Int.init),
                       "steps": steps])
        } else {
            print("\(architecture), global batch \(batchSize), \(world) rank(s) x \(threads) thread(s)")
            print(String(format: "  step (median of %d):  %.4f s   %.1f images/s", steps, jobStep, imagesPerSecond))
            print(String(format: "  effective:            %.1f GFLOP/s (3 x 2 x %.2f M MACs/image), %.0f%% of sgemm %.1f GFLOP/s",
                         gflops, Double(network.macsPerImage) / 1e6, gflops / peak * 100, peak))
            print(String(format: "  all-reduce:           %.1f%% of the step (communication %.1f%%, waiting for a slower rank %.1f%%)",
                         allReduceShare * 100, wait.communication / jobStep * 100, wait.imbalance / jobStep * 100))
            print(String(format: "  peak RSS:             %.1f MiB (largest rank)", Double(rssAll.max()!) / 1_048_576))
            print("  rank 0 breakdown (per step):")
            for entry in breakdown {
                let gflops = (entry["gflops"] as? Double).map { String(format: "  %6.1f GFLOP/s", $0) } ?? ""
                print(String(format: "    %-24@ %8.2f ms  %5.1f%%", entry["kind"] as! String,
                             (entry["seconds_per_step"] as! Double) * 1000, (entry["share"] as! Double) * 100) + gflops)
            }
        }
    }
}

/// Splits the wait after backward, step by step, without comparing clocks across ranks. The rank
/// that finishes backward last waits only for the buckets still in flight: the smallest wait of a
/// step is its exposed communication. What the other ranks wait beyond that is the time they spend
/// idle until the slowest rank catches up (imbalance), which no all-reduce schedule can hide.
struct WaitSplit {
    /// Medians over steps, seconds.
    let communication: Double, imbalance: Double

    init(_ waits: [Double], communicator: Communicator) throws {
        let world = communicator.size, steps = waits.count
        var all = [Double](repeating: 0, count: world * steps)
        for (step, wait) in waits.enumerated() { all[step * world + communicator.rank] = wait }
        try all.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        let perStep = (0..<steps).map { all[($0 * world)..<(($0 + 1) * world)] }
        communication = median(perStep.map { $0.min()! })
        imbalance = median(perStep.map { $0.max()! - $0.min()! })
    }
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Peak resident set size of this process (VmHWM), bytes.
func peakResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}

/// Single-thread sgemm rate on a 1024^3 product, best of 3.
func measureSgemmGFLOPS() -> Double {
    let n = 1024
    let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n), b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    a.initialize(repeating: 0.5, count: n * n); b.initialize(repeating: 0.25, count: n * n); c.initialize(repeating: 0, count: n * n)
    var best = Double.infinity
    for _ in 0..<3 {
        let t0 = monotonicSeconds()
        sgemm(transposeA: false, transposeB: false, m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, beta: 0, c: c, ldc: n)
        best = min(best, monotonicSeconds() - t0)
    }
    return 2 * Double(n * n * n) / best / 1e9
}
