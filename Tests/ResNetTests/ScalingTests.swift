import Distributed
import Foundation
import Testing

@testable import ResNet

/// The scaling model's arithmetic, the trace it reads, and the replay that emulates it.
struct ScalingTests {
    let model = ScalingModel(
        network: .init(latency: 1e-4, bytesPerSecond: 1e7), sharedMemory: .init(latency: 1e-6, bytesPerSecond: 1e9),
        reduceBytesPerSecond: 1e9)

    /// The alpha-beta costs of each algorithm, written out by hand for small cases.
    @Test func allReduceCosts() {
        let n = 1_000_000
        // 2 ranks on 2 hosts, binomial: one message up, one down, one addition.
        #expect(abs(model.allReduceSeconds(bytes: n, ranks: 2, ranksPerHost: 1, algorithm: .binomial) - (2 * (1e-4 + 0.1) + 1e-3)) < 1e-12)
        // 8 ranks, 2 to a host: 3 rounds each way, 2 across hosts (partners 2 and 4 apart), 1 inside.
        let binomial = 2 * (2 * (1e-4 + 0.1) + (1e-6 + 1e-3)) + 3 * 1e-3
        #expect(abs(model.allReduceSeconds(bytes: n, ranks: 8, ranksPerHost: 2, algorithm: .binomial) - binomial) < 1e-12)
        // Ring over 4 hosts: 6 steps of a quarter each, 3 additions of a quarter.
        let ring = 6 * (1e-4 + 0.025) + 3 * 250_000 / 1e9
        #expect(abs(model.allReduceSeconds(bytes: n, ranks: 4, ranksPerHost: 1, algorithm: .ring) - ring) < 1e-12)
        #expect(model.allReduceSeconds(bytes: n, ranks: 1, ranksPerHost: 1, algorithm: .ring) == 0)
        // Large messages on many ranks: ring and Rabenseifner beat the binomial tree.
        for algorithm in [ScalingModel.Algorithm.ring, .rabenseifner] {
            #expect(
                model.allReduceSeconds(bytes: n, ranks: 32, ranksPerHost: 1, algorithm: algorithm)
                    < model.allReduceSeconds(bytes: n, ranks: 32, ranksPerHost: 1, algorithm: .binomial) / 2)
        }
    }

    /// OpenMPI 4.1's libnbc rule: in place (the trainer's call) is always the binomial tree, which is
    /// why the MPI shim asks for the ring.
    @Test func libnbcChoice() {
        #expect(ScalingModel.libnbcChoice(ranks: 32, bytes: 4 << 20, inPlace: true) == .binomial)
        #expect(ScalingModel.libnbcChoice(ranks: 32, bytes: 4 << 20, inPlace: false) == .rabenseifner)
        #expect(ScalingModel.libnbcChoice(ranks: 3, bytes: 4 << 20, inPlace: false) == .binomial)
        #expect(ScalingModel.libnbcChoice(ranks: 32, bytes: 65_535, inPlace: false) == .binomial)
    }

    /// A step: each bucket starts when backward has finished it; buckets in flight together share
    /// the link.
    @Test func stepOverlapsBucketsWithBackward() throws {
        let network = Network(try Architecture.parse("resnet20"), batchCapacity: 1)
        let plan = GradientBucketPlan(parameters: network.store.parameters, bucketFloats: 100_000)
        #expect(plan.buckets.count >= 3)
        // A report every millisecond besides the buckets' own (offset past the end: finishing
        // nothing), so that the rank enters MPI often during backward.
        let often = (1...999).map { StepTrace.Ready(offset: network.store.parameterCount, seconds: Double($0) / 1000) }
        func trace(readyAt fraction: Double) -> StepTrace {
            StepTrace(
                architecture: network.architecture, imagesPerRank: 1, threads: 1,
                parameterCount: network.store.parameterCount, statisticsCount: 0,
                readies: plan.buckets.map { .init(offset: $0.lowerBound, seconds: fraction) } + often,
                computeSeconds: 1, updateSeconds: 0.25, machine: "test")
        }
        let one = model.step(trace(readyAt: 0), plan: plan, ranks: 1, ranksPerHost: 1)
        #expect(one.seconds == 1.25 && one.exposedCommunication == 0)
        // Every bucket ready only when backward ends: all of their bytes are exposed; only their
        // rounds' latencies (1e-4 s, 6 rounds a bucket) may overlap.
        let late = model.step(trace(readyAt: 1), plan: plan, ranks: 4, ranksPerHost: 1)
        let reductions = late.bucketSeconds.reduce(0, +)
        let overlappable = Double(plan.buckets.count * 6) * 1e-4
        #expect(late.exposedCommunication <= reductions + 1e-12)
        #expect(late.exposedCommunication >= reductions - overlappable - 1e-12)
        // Ready at the start: hidden behind backward as far as they fit in it, each round waiting
        // at most a millisecond for the rank to enter MPI again.
        let early = model.step(trace(readyAt: 0), plan: plan, ranks: 4, ranksPerHost: 1)
        let rounds = Double(plan.buckets.count * 2 * 3)
        #expect(early.exposedCommunication >= max(0, reductions - 1) - 1e-12)
        #expect(early.exposedCommunication <= max(0, reductions - 1) + rounds * 1e-3)
        #expect(late.seconds > early.seconds)
    }

    /// During backward a bucket's next round waits for the rank to enter MPI (a report of
    /// finished gradients); once backward is over it waits in MPI and the rounds follow at once.
    @Test func roundsAdvanceOnlyInsideMPI() throws {
        let network = Network(try Architecture.parse("resnet8"), batchCapacity: 1)
        let count = network.store.parameterCount
        let plan = GradientBucketPlan(parameters: network.store.parameters, bucketFloats: count)
        #expect(plan.buckets.count == 1)
        // 2 ranks on 2 hosts: two rounds of the ring, each half the bytes in 0.03 s (no latency,
        // additions free).
        let model = ScalingModel(
            network: .init(latency: 0, bytesPerSecond: Double(count * 4) / 0.06),
            sharedMemory: .init(latency: 0, bytesPerSecond: 1e12), reduceBytesPerSecond: .infinity)
        let rounds = model.allReduceRounds(bytes: count * 4, ranks: 2, ranksPerHost: 1, algorithm: .ring)
        #expect(rounds.count == 2 && rounds.allSatisfy { abs($0 - 0.03) < 1e-12 })
        func trace(bucketReadyAt ready: Double) -> StepTrace {
            StepTrace(
                architecture: network.architecture, imagesPerRank: 1, threads: 1, parameterCount: count,
                statisticsCount: 0,
                readies: [.init(offset: count, seconds: 0.05), .init(offset: 0, seconds: ready)]
                    + [0.2, 0.3, 0.4].map { .init(offset: count, seconds: $0) },
                computeSeconds: 1, updateSeconds: 0, machine: "test")
        }
        #expect(trace(bucketReadyAt: 0.1).progressMoment(atOrAfter: 0.13) == 0.2)
        #expect(trace(bucketReadyAt: 0.1).progressMoment(atOrAfter: 1.5) == 1.5)
        // Started at 0.1: the first round ends at 0.13, the second starts at the next report
        // (0.2) and ends at 0.23, noticed at 0.3: the reduction ends inside backward, nothing exposed.
        let inside = model.step(trace(bucketReadyAt: 0.1), plan: plan, ranks: 2, ranksPerHost: 1)
        #expect(inside.exposedCommunication == 0 && abs(inside.bucketSeconds[0] - 0.06) < 1e-12)
        // Started at 0.39: round one ends at 0.42, after the last report, so round two waits for
        // the end of backward (1.0) and ends at 1.03: 0.03 s exposed, where a rank with a
        // progress thread would have finished at 0.45.
        let late = model.step(trace(bucketReadyAt: 0.39), plan: plan, ranks: 2, ranksPerHost: 1)
        #expect(abs(late.exposedCommunication - 0.03) < 1e-12)
    }

    /// ResNet-8's step with one report during backward, at 0.2 s; backward ends at 0.25 s.
    func oneReportTrace() throws -> StepTrace {
        let network = Network(try Architecture.parse("resnet8"), batchCapacity: 1)
        let count = network.store.parameterCount
        return StepTrace(
            architecture: network.architecture, imagesPerRank: 1, threads: 1, parameterCount: count,
            statisticsCount: 0, readies: [.init(offset: count, seconds: 0.2)], computeSeconds: 0.25,
            updateSeconds: 0, machine: "test")
    }

    /// Buckets in flight together: each entry into MPI moves all of them on, their bytes share the
    /// link and their latencies do not; one after another they would take longer. Beyond the
    /// trainer's request slots a bucket waits for its slot, and backward waits with it.
    @Test func bucketsInFlightTogetherShareTheLink() throws {
        let trace = try oneReportTrace()
        func flights(_ n: Int, latency: Double, shared: Double, start: Double) -> [ScalingModel.BucketFlight] {
            (0..<n).map { _ in ScalingModel.BucketFlight(rounds: [(latency, shared), (latency, shared)], start: start) }
        }
        // Alone: round one 0.10-0.13, round two at the report 0.20-0.23, noticed when backward ends.
        var one = flights(1, latency: 0, shared: 0.03, start: 0.1)
        #expect(abs(ScalingModel.fly(&one, trace: trace).noticed - 0.25) < 1e-12)
        // Two together: round one shared, 0.10-0.16; round two at the report, 0.20-0.26. One after
        // the other, the second would have run 0.25-0.31.
        var two = flights(2, latency: 0, shared: 0.03, start: 0.1)
        #expect(abs(ScalingModel.fly(&two, trace: trace).noticed - 0.26) < 1e-12)
        // After backward: latencies side by side (0.30-0.31), bytes shared (0.31-0.35), twice: 0.40.
        var after = flights(2, latency: 0.01, shared: 0.02, start: 0.3)
        #expect(abs(ScalingModel.fly(&after, trace: trace).noticed - 0.40) < 1e-12)

        // One request slot: the second bucket waits, the rank blocked in MPI, for the first to end.
        // The first: 0.10-0.13, then at once (inside MPI) 0.13-0.16. Backward stood still 0.06 s,
        // so the report comes at 0.26 and backward ends at 0.31. The second: 0.16-0.19, then at the
        // report 0.26-0.29, noticed when backward ends, 0.31.
        var queued = flights(2, latency: 0, shared: 0.03, start: 0.1)
        let slotted = ScalingModel.fly(&queued, trace: trace, slots: 1)
        #expect(abs(slotted.noticed - 0.31) < 1e-12 && abs(slotted.stalled - 0.06) < 1e-12, "\(slotted)")
        // Enough slots for both, as above: no stall.
        var free = flights(2, latency: 0, shared: 0.03, start: 0.1)
        #expect(ScalingModel.fly(&free, trace: trace, slots: 2).stalled == 0)
    }

    /// Rounds of a very slow link (about 10^6 s each, two sharing): the flights still end, at the
    /// sum of their shares. An absolute tolerance left a rounding residue that never fell under it,
    /// and `scaling predict --gbit 1e-9` spun for ever (2026-12-02).
    @Test func roundsOfHoursEndExactly() throws {
        let trace = try oneReportTrace()
        var slow = (0..<2).map { _ in
            ScalingModel.BucketFlight(rounds: [(0, 1_234_567.891), (0, 1_234_567.891)], start: 0.3)
        }
        let noticed = ScalingModel.fly(&slow, trace: trace).noticed
        #expect(abs(noticed - (0.3 + 4 * 1_234_567.891)) < 1e-6, "\(noticed)")
    }

    /// A recorded trace: every report of the network in backward order, from the fc to offset 0,
    /// at times that only grow, within the step.
    @Test func traceRecordsBackwardsReports() throws {
        let network = Network(try Architecture.parse("resnet8"), batchCapacity: 4)
        network.initialize(seed: 1)
        let trace = try StepTrace.record(network: network, images: 4, optimizer: SGD(), steps: 3, warmup: 1, machine: "test")
        let offsets = trace.readies.map(\.offset)
        #expect(offsets.last == 0 && offsets == offsets.sorted(by: >) && Set(offsets).count == offsets.count)
        #expect(zip(trace.readies, trace.readies.dropFirst()).allSatisfy { $0.seconds <= $1.seconds })
        #expect(trace.readies.last!.seconds <= trace.computeSeconds && trace.updateSeconds > 0)
        #expect(trace.parameterCount == network.store.parameterCount)
        let encoded = try JSONEncoder().encode(trace)
        #expect(try JSONDecoder().decode(StepTrace.self, from: encoded) == trace)
        // A bucket may start at the first report that covers all of it.
        let bucket = offsets[2]..<network.store.parameterCount
        #expect(trace.readySeconds(of: bucket) == trace.readies[2].seconds)
    }

    /// The emulation sends what a real step sends: the same collectives, in the same order, of the
    /// same lengths, as `DataParallelStep` on the same network and bucket plan.
    @Test(arguments: [1.0, 0.05])
    func replayIssuesTheStepsCollectives(bucketMiB: Double) throws {
        let network = Network(try Architecture.parse("resnet8"), batchCapacity: 4)
        network.initialize(seed: 1)
        let trace = try StepTrace.record(network: network, images: 4, optimizer: SGD(), steps: 1, warmup: 0, machine: "test")
        let real = RecordingCommunicator()
        let step = DataParallelStep(
            network: network, communicator: real, optimizer: SGD(), syncBatchNorm: false, bucketMiB: bucketMiB)
        _ = try step.run(images: 4, globalImages: 8, learningRate: 0.1)
        let replayed = RecordingCommunicator()
        let replay = StepReplay(
            trace: trace, store: network.store, communicator: replayed, plan: step.bucketPlan)
        _ = try replay.step()
        #expect(replayed.log == real.log)
        #expect(real.log.filter { $0.hasPrefix("start") }.count == step.bucketPlan.buckets.count)
    }

    /// Time dilation: at K the replay sends the same collectives, sleeps K times as long, and reports
    /// the step in the emulated time. The bounds hold however loaded the machine: a sleep never
    /// ends early, and the step's own clock runs inside the one around it.
    @Test func dilatedReplayRunsSlowerAndReportsEmulatedTime() throws {
        let network = Network(try Architecture.parse("resnet8"), batchCapacity: 4)
        network.initialize(seed: 1)
        let trace = try StepTrace.record(network: network, images: 4, optimizer: SGD(), steps: 1, warmup: 0, machine: "test")
        let plan = GradientBucketPlan(parameters: network.store.parameters, bucketMiB: 0.05)
        let undilated = RecordingCommunicator()
        _ = try StepReplay(trace: trace, store: network.store, communicator: undilated, plan: plan).step()
        let dilated = RecordingCommunicator()
        let k = 4.0
        let replay = StepReplay(trace: trace, store: network.store, communicator: dilated, plan: plan, timeScale: k)
        let start = monotonicSeconds()
        let reported = try replay.step()
        let wall = monotonicSeconds() - start
        #expect(dilated.log == undilated.log)
        #expect(reported >= trace.computeSeconds + trace.updateSeconds, "emulated time covers the recorded step")
        #expect(reported * k <= wall, "reported \(reported) s at K = \(k) within \(wall) s of wall time")
    }
}
