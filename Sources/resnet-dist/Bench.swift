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

    @Option(parsing: .unconditional, help: ArgumentHelp(ThreadCount.help))
    var threads: Int?

    @Option(help: "Timed steps.")
    var steps = 10

    @Option(name: .customLong("warmup-steps"), help: "Untimed steps first.")
    var warmupSteps = 2

    @OptionGroup(title: "Distribution") var distribution: DistributionOptions

    @Flag(
        name: .customLong("checkpoint-io"),
        help: "Time saving and loading a training checkpoint of the network instead (medians over --steps).")
    var checkpointIO = false

    @Option(
        help:
            "Time the input pipeline instead: decode and augment the training images of this image folder (DIR/CLASS/*.JPEG) into batches of --batch-size, the paper's training views, over --images images.")
    var decode: String?

    @Option(
        name: .customLong("decode-threads"), parsing: .unconditional,
        help: "With --decode: threads that prepare the batches (0: the calling thread alone).")
    var decodeThreads = 1

    @Option(parsing: .unconditional, help: "With --decode: images to time (after the first batch).")
    var images = 400

    @Flag(
        name: .customLong("by-layer"),
        help: "Also break the convolution passes down by layer shape (kernel, stride, channels, plane, algorithm).")
    var byLayer = false

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        try ScheduleOptions.requireBatchSize(batchSize)
        try ThreadCount.validate(threads)
        try requireTimedSteps(steps, warmup: warmupSteps)
    }

    func run() throws {
        if let decode {
            let rate = try InputPipelineTiming(
                folder: try ImageFolder.scan(decode), batch: batchSize, threads: decodeThreads, images: images)
            let fields: [String: Any] = [
                "folder": decode, "decode_threads": decodeThreads, "batch_size": batchSize, "images": rate.images,
                "seconds": rate.seconds, "images_per_s": Double(rate.images) / rate.seconds,
            ]
            if json { printJSON(fields) } else {
                print(
                    String(
                        format: "decode + augment (224 training views), %d decode thread(s): %.1f images/s",
                        decodeThreads, Double(rate.images) / rate.seconds))
            }
            return
        }
        if checkpointIO {
            let timing = try CheckpointIOTiming(try model.architecture(), repeats: steps)
            let fields: [String: Any] = [
                "arch": try model.architecture().description, "save_seconds_median": timing.saveSeconds,
                "load_seconds_median": timing.loadSeconds, "bytes": timing.bytes, "repeats": steps,
            ]
            if json { printJSON(fields) } else {
                print(
                    String(
                        format: "%@ checkpoint (%.1f MB): save %.3f s, load %.3f s (medians of %d)",
                        "\(try model.architecture())", Double(timing.bytes) / 1e6, timing.saveSeconds,
                        timing.loadSeconds, steps))
            }
            return
        }
        try withCommunicator { try bench($0) }
    }

    func bench(_ communicator: Communicator) throws {
        let architecture = try model.architecture()
        let world = communicator.size
        // This rank's shard, floor(B/N) or ceil(B/N) images, as in training.
        let local = BatchLoader.shard(of: batchSize, rank: communicator.rank, worldSize: world).count
        let capacity = Trainer.largestShard(globalBatch: batchSize, worldSize: world)
        try Network.requireMemory(
            for: architecture, images: capacity,
            what: "--batch-size \(batchSize) on \(world) rank\(world == 1 ? "" : "s")")
        let (threads, threadsReason) = ThreadCount.choose(self.threads)
        let network = Network(
            architecture, batchCapacity: capacity, threads: threads, batchNormGroup: distribution.bnGroup)
        network.initialize(seed: 1)
        var rng = SplitMix64(seed: UInt64(communicator.rank + 7))
        for i in 0..<(local * network.imageFloats) { network.inputImages[i] = rng.nextNormal() }
        for i in 0..<local { network.inputLabels[i] = Int32(rng.next() % 10) }
        // The trainer's own step: buckets, the loss all-reduce and the batch-norm statistics included.
        let step = DataParallelStep(
            network: network, communicator: communicator, optimizer: SGD(), syncBatchNorm: distribution.syncBN,
            bucketMiB: distribution.bucketMB, bfloat16: distribution.allreducePrecision == .bf16)
        var times: [Double] = []
        var reduceTimes: [Double] = []
        var computeTimes: [Double] = []
        let profile = StepProfile()
        for index in 0..<(warmupSteps + steps) {
            if index == warmupSteps {
                network.profile = profile
                _ = parallelPoolStatistics(reset: true)
            }
            try communicator.barrier()
            _ = try step.run(images: local, globalImages: batchSize, learningRate: 0.01)
            if index >= warmupSteps {
                times.append(step.timing.total)
                reduceTimes.append(step.timing.reduction)
                computeTimes.append(step.timing.compute)
            }
        }
        // The job's step time is its slowest rank's: gather every rank's medians by summing slots.
        let stepMedian = median(times)
        let reduceMedian = median(reduceTimes)
        var perRank = [Double](repeating: 0, count: world * 3)
        perRank[communicator.rank * 3] = stepMedian
        perRank[communicator.rank * 3 + 1] = reduceMedian
        perRank[communicator.rank * 3 + 2] = median(computeTimes)
        try perRank.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        let slowest = stride(from: 0, to: world * 3, by: 3).map { perRank[$0] }
        let computePerRank = stride(from: 2, to: world * 3, by: 3).map { perRank[$0] }
        let jobStep = slowest.max()!
        let allReduceShare = stride(from: 1, to: world * 3, by: 3).map { perRank[$0] }.max()! / jobStep
        let pool = parallelPoolStatistics()
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
            var entry: [String: Any] = [
                "kind": kind.rawValue, "seconds_per_step": seconds / Double(steps),
                "share": seconds / Double(steps) / median(times),
            ]
            if let f = profile.flops[kind] { entry["gflops"] = f / seconds / 1e9 }
            return entry
        }
        let stepSeconds = median(times)
        let layers = profile.shapes.map { shape -> [String: Any] in
            let times = profile.byShape[shape]!
            var entry: [String: Any] = [
                "shape": shape, "layers": times.forwardCalls / steps,
                "seconds_per_step": times.seconds.values.reduce(0, +) / Double(steps),
            ]
            for kind in [StepProfile.Kind.convForward, .convBackwardData, .convBackwardWeights] {
                entry[kind.rawValue] = (times.seconds[kind] ?? 0) / Double(steps)
            }
            return entry
        }
        if json {
            printJSON(
                [
                    "breakdown": breakdown, "layers": byLayer ? layers : [], "arch": architecture.description, "batch_size": batchSize, "ranks": world,
                    "threads": threads, "buckets": step.bucketPlan.buckets.count,
                    "allreduce_precision": distribution.allreducePrecision.rawValue,
                    "images_per_s": imagesPerSecond, "step_seconds_median": jobStep,
                    "allreduce_share": allReduceShare,
                    "communication_share": wait.communication / jobStep, "compute_seconds_per_rank": computePerRank,
                    "imbalance_share": wait.imbalance / jobStep,
                    "effective_gflops": gflops, "sgemm_gflops": peak,
                    "peak_rss_bytes": Int(rssAll.max()!), "peak_rss_bytes_per_rank": rssAll.map(Int.init),
                    "steps": steps,
                    "mpi_settings": (communicator as? MPICommunicator)?.transportSettings() ?? [:],
                    "pool": pool.map {
                        [
                            "regions_per_step": Double($0.regions) / Double(steps),
                            "chunks_per_step": Double($0.chunks) / Double(steps),
                            "worker_chunk_share": Double($0.chunksByWorkers) / Double(max(1, $0.chunks)),
                            "join_wait_seconds_per_step": $0.joinWaitSeconds / Double(steps),
                            "mean_wake_seconds": $0.meanWakeSeconds,
                            "by_region": $0.byRegion.map { region -> [String: Any] in
                                [
                                    "region": region.name, "regions_per_step": Double(region.regions) / Double(steps),
                                    "join_wait_seconds_per_step": region.joinWaitSeconds / Double(steps),
                                ]
                            },
                        ] as [String: Any]
                    } ?? [:],
                ].merging(InstructionSet.fields) { a, _ in a })
        } else {
            print(
                "\(architecture), global batch \(batchSize), \(world) rank(s) x \(threads) thread(s) (\(threadsReason))"
            )
            print("  kernels:              \(InstructionSet.summary)")
            print(String(format: "  step (median of %d):  %.4f s   %.1f images/s", steps, jobStep, imagesPerSecond))
            print(
                String(
                    format:
                        "  effective:            %.1f GFLOP/s (3 x 2 x %.2f M MACs/image), %.0f%% of sgemm %.1f GFLOP/s",
                    gflops, Double(network.macsPerImage) / 1e6, gflops / peak * 100, peak))
            print(
                String(
                    format:
                        "  all-reduce:           %.1f%% of the step (communication %.1f%%, waiting for a slower rank %.1f%%)",
                    allReduceShare * 100, wait.communication / jobStep * 100, wait.imbalance / jobStep * 100))
            print(String(format: "  peak RSS:             %.1f MiB (largest rank)", Double(rssAll.max()!) / 1_048_576))
            if let pool {
                print(
                    String(
                        format:
                            "  thread pool:          %.0f regions a step, workers ran %.0f%% of the chunks, caller waited %.4f s a step at joins, mean wake %.1f us",
                        Double(pool.regions) / Double(steps), Double(pool.chunksByWorkers) / Double(max(1, pool.chunks)) * 100,
                        pool.joinWaitSeconds / Double(steps), pool.meanWakeSeconds * 1e6))
                for region in pool.byRegion.prefix(12) {
                    print(
                        String(
                            format: "    %-44@ %6.1f a step, waited %.4f s a step, workers ran %d chunks",
                            region.name as NSString, Double(region.regions) / Double(steps),
                            region.joinWaitSeconds / Double(steps), region.chunksByWorkers / steps))
                }
            }
            print("  rank 0 breakdown (per step):")
            for entry in breakdown {
                let gflops = (entry["gflops"] as? Double).map { String(format: "  %6.1f GFLOP/s", $0) } ?? ""
                let kind = (entry["kind"] as! String).padding(toLength: 24, withPad: " ", startingAt: 0)
                print(
                    "    " + kind
                        + String(
                            format: " %8.2f ms  %5.1f%%", (entry["seconds_per_step"] as! Double) * 1000,
                            (entry["share"] as! Double) * 100) + gflops)
            }
            if byLayer {
                print("  rank 0 convolutions by layer shape (ms per step: forward, backward-data, backward-weights):")
                for entry in layers {
                    let ms = { (kind: StepProfile.Kind) in (entry[kind.rawValue] as! Double) * 1000 }
                    let shape = (entry["shape"] as! String).padding(toLength: 36, withPad: " ", startingAt: 0)
                    print(
                        "    " + shape
                            + String(
                                format: " x%-3d %8.1f %8.1f %8.1f  = %8.1f ms  %5.1f%%",
                                entry["layers"] as! Int, ms(.convForward), ms(.convBackwardData),
                            ms(.convBackwardWeights), (entry["seconds_per_step"] as! Double) * 1000,
                            (entry["seconds_per_step"] as! Double) / stepSeconds * 100))
                }
            }
        }
    }
}
