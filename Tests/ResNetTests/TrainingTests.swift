import Distributed
import Foundation
import Testing

@testable import ResNet

struct TrainingTests {
    @Test func tinyNetworkOverfits64Images() throws {
        // 64 images of noise with random labels: only memorisation can fit them.
        var rng = SplitMix64(seed: 99)
        let images = (0..<(64 * 3072)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let labels = (0..<64).map { _ in UInt8(rng.next() % 10) }
        let data = LabeledImages(images: images, labels: labels)
        var config = smallConfig(depth: 8, batch: 64, iterations: 120, lr: 0.05)
        config.augment = false
        let trainer = try Trainer(
            config: config, communicator: SingleProcessCommunicator(), train: data, test: data,
            normalization: .perPixelMean(of: data), logger: quietLogger)
        let result = try trainer.run()
        let accuracy = 1 - (try trainer.evaluate()!).error
        #expect(
            accuracy == 1.0,
            "training accuracy \(accuracy) after \(result.iterations) steps, final loss \(result.losses.last!)")
    }

    @Test func sameSeedGivesTheSameFirst20LossesBitForBit() throws {
        let data = SyntheticData.make(count: 256, seed: 3)
        func losses(seed: UInt64) throws -> [Double] {
            var config = smallConfig(depth: 8, batch: 16, iterations: 20)
            config.seed = seed
            return try Trainer(
                config: config, communicator: SingleProcessCommunicator(), train: data, test: nil,
                normalization: .perPixelMean(of: data), logger: quietLogger
            ).run().losses
        }
        let a = try losses(seed: 7)
        let b = try losses(seed: 7)
        let c = try losses(seed: 8)
        #expect(a.count == 20)
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        #expect(a != c, "another seed gives other losses")
    }

    @Test func sgdHasPyTorchSemantics() throws {
        let net = Network(try Architecture(family: .resnet, depth: 8), batchCapacity: 1)
        let store = net.store
        store.values[0] = 2
        store.gradients[0] = 0.5
        store.momentum[0] = 0
        let sgd = SGD(momentum: 0.9, weightDecay: 0.1)
        sgd.step(store, learningRate: 0.1)
        // v = 0.5 + 0.1*2 = 0.7; w = 2 - 0.07
        #expect(abs(store.momentum[0] - 0.7) < 1e-7 && abs(store.values[0] - 1.93) < 1e-6)
        store.gradients[0] = 0.5
        sgd.step(store, learningRate: 0.1)
        // v = 0.9*0.7 + 0.5 + 0.1*1.93 = 1.323; w = 1.93 - 0.1323
        #expect(abs(store.momentum[0] - 1.323) < 1e-6 && abs(store.values[0] - 1.7977) < 1e-6)
    }

    @Test func scheduleAndWarmup() {
        let paper = LearningRateSchedule.paper(warmup: .init(window: 391))
        #expect(paper.learningRate(iteration: 10, warmupDone: false) == 0.01)
        #expect(paper.learningRate(iteration: 10, warmupDone: true) == 0.1)
        #expect(abs(paper.learningRate(iteration: 32_000, warmupDone: true) - 0.01) < 1e-12)
        #expect(abs(paper.learningRate(iteration: 48_000, warmupDone: true) - 0.001) < 1e-12)
        // Decided on the mean error of each full window of 4 iterations, not before the window ends.
        let rule = LearningRateSchedule.Warmup(window: 4)
        var state = WarmupState(done: false)
        for error in [0.9, 0.9, 0.9, 0.7] { state.record(error: error, warmup: rule) }  // mean 0.85
        #expect(!state.done && state.windowSteps == 0 && state.windowErrorSum == 0)
        for error in [0.9, 0.5, 0.5] { state.record(error: error, warmup: rule) }  // below 0.8, window not full
        #expect(!state.done && state.windowSteps == 3)
        state.record(error: 0.9, warmup: rule)  // mean 0.7
        #expect(state.done)
        state.record(error: 1, warmup: rule)
        #expect(state.done && state.windowSteps == 0)
    }

    @Test func linearRampThenMilestones() {
        // Goyal et al.: batch 1024 = 8 x 128, lr 0.1 -> 0.8 over 10 iterations, then /10 at 20.
        let s = LearningRateSchedule(
            base: 0.8, milestones: [20], iterations: 30, ramp: .init(start: 0.1, iterations: 10))
        #expect(s.learningRate(iteration: 0, warmupDone: true) == 0.1)
        #expect(abs(s.learningRate(iteration: 5, warmupDone: true) - 0.45) < 1e-12)
        #expect(s.learningRate(iteration: 10, warmupDone: true) == 0.8)
        #expect(abs(s.learningRate(iteration: 20, warmupDone: true) - 0.08) < 1e-12)
        // Stored and read back exactly (the checkpoint keeps the schedule as JSON).
        let data = try! JSONEncoder().encode(s)
        #expect(try! JSONDecoder().decode(LearningRateSchedule.self, from: data) == s)
    }

    @Test func aLongerScheduleExtendsARunOnlyWhenTheRateUpToItsEndStays() {
        let run = LearningRateSchedule(base: 0.1, milestones: [15, 23], iterations: 30)
        let longer = { (milestones: [Int], iterations: Int) in
            LearningRateSchedule(base: 0.1, milestones: milestones, iterations: iterations)
        }
        #expect(run.extends(run))
        #expect(longer([15, 23], 40).extends(run))
        #expect(longer([15, 23, 35], 40).extends(run), "a new milestone after the old end")
        #expect(longer([15, 23, 30], 40).extends(run), "a new milestone at the old end")
        #expect(!longer([20, 30], 40).extends(run), "milestones that moved with the length")
        #expect(!longer([15], 40).extends(run), "a milestone before the old end dropped")
        #expect(!longer([15, 23], 20).extends(run), "shorter")
        #expect(!LearningRateSchedule(base: 0.2, milestones: [15, 23], iterations: 40).extends(run))
        var warm = longer([15, 23], 40)
        warm.warmup = .init(window: 4)
        #expect(!warm.extends(run))
    }
}

/// The data-parallel path with replicas on threads (the same Trainer code as under MPI).
struct ReplicaTests {
    let data = SyntheticData.make(count: 256, seed: 4)

    func run(
        replicas: Int, batch: Int, iterations: Int, syncBN: Bool, lr: Double = 0.02
    ) throws -> [(trainer: Trainer, result: TrainingResult)] {
        try trainReplicas(replicas, on: data, batch: batch, iterations: iterations, syncBN: syncBN, lr: lr)
    }

    @Test func replicasStayBitwiseIdentical() throws {
        let runs = try run(replicas: 2, batch: 16, iterations: 20, syncBN: false)
        #expect(runs[0].result.replicasIdentical)
        #expect(runs[0].trainer.network.digest() == runs[1].trainer.network.digest())
    }

    /// Largest per-tensor difference between two stores, relative to the tensor's largest magnitude.
    func worstRelativeDifference(_ a: ParameterStore, _ b: ParameterStore) -> (value: Double, tensor: String) {
        var worst = (0.0, "")
        for spec in a.parameters + a.buffers {
            let isParameter = a.parameters.contains(spec)
            let x = (isParameter ? a.values : a.bufferValues) + spec.offset
            let y = (isParameter ? b.values : b.bufferValues) + spec.offset
            var diff: Float = 0
            var scale: Float = 0
            for i in 0..<spec.count {
                diff = max(diff, abs(x[i] - y[i]))
                scale = max(scale, abs(x[i]))
            }
            let relative = Double(diff / max(scale, 1e-6))
            if relative > worst.0 { worst = (relative, spec.name) }
        }
        return worst
    }

    // Sync BN: N ranks x 4 images compute the model of 1 rank x 4N images.
    // One step at lr 1: the parameters differ by exactly the gradients' difference, which must be
    // within 1e-5 of each tensor's scale. Over 10 steps, float32 summation orders differ, and once
    // a ReLU input lies within rounding of 0 the two runs take that unit's other branch: single
    // elements then differ by O(1) of their update (about 1/sqrt(batch x pixels) of that layer's
    // gradient in one step, 1e-3 of a 10-step trajectory with 4 images per rank), so 10 steps
    // are compared on the whole trajectory, |a - b| / |a - initial| over all parameters, at 3e-2;
    // per-rank statistics are 10x and more away. (Two single-process runs that only group their
    // sums differently agree to 1e-6 until such a flip happens.) Measured on this test: with F(2x2)
    // convolutions everywhere 2.7e-3 (2 ranks) and 7.8e-7 (3 ranks, no flip); with F(4x4) in the
    // forward passes 1.6e-2 and 1.5e-2: its rounding error (about 3e-6 of a layer's output, against
    // 5e-7) differs between two runs whose inputs differ in the last bit, so more units sit within
    // it of a flip. The one-step differences stay 1.3e-7 and 2.6e-6. The bound is 3e-2, ten times
    // below per-rank statistics (0.31).
    @Test("N ranks with sync BN equal one rank with the whole batch", arguments: [2, 3])
    func syncBatchNormEquivalence(ranks: Int) throws {
        let many = try run(replicas: ranks, batch: 4 * ranks, iterations: 1, syncBN: true, lr: 1)
        let one = try run(replicas: 1, batch: 4 * ranks, iterations: 1, syncBN: false, lr: 1)
        let worst = worstRelativeDifference(one[0].trainer.network.store, many[0].trainer.network.store)
        #expect(worst.value < 1e-5, "\(ranks) ranks, one step: \(worst.tensor) differs by \(worst.value)")

        let initial = try run(replicas: 1, batch: 4 * ranks, iterations: 1, syncBN: false, lr: 0)[0].trainer.network
            .store
        let manyLong = try run(replicas: ranks, batch: 4 * ranks, iterations: 10, syncBN: true, lr: 0.02)
        let oneLong = try run(replicas: 1, batch: 4 * ranks, iterations: 10, syncBN: false, lr: 0.02)
        let drift = trajectoryDifference(
            initial: initial, oneLong[0].trainer.network.store, manyLong[0].trainer.network.store)
        #expect(drift < 3e-2, "\(ranks) ranks, 10 steps: trajectories differ by \(drift) of their length")
        // Without sync BN the model is a different one (per-rank statistics of 4 images).
        let perRank = try run(replicas: ranks, batch: 4 * ranks, iterations: 10, syncBN: false, lr: 0.02)
        let unsynced = trajectoryDifference(
            initial: initial, oneLong[0].trainer.network.store, perRank[0].trainer.network.store)
        #expect(unsynced > 5e-2, "per-rank statistics differ by \(unsynced)")
        print("sync BN, \(ranks) ranks: one step \(worst.value), ten steps \(drift); per-rank BN \(unsynced)")
    }

    /// |a - b| / |a - initial| over the parameter vectors (Euclidean norms).
    func trajectoryDifference(initial: ParameterStore, _ a: ParameterStore, _ b: ParameterStore) -> Double {
        var diff = 0.0
        var moved = 0.0
        for i in 0..<a.parameterCount {
            let d = Double(a.values[i] - b.values[i])
            let m = Double(a.values[i] - initial.values[i])
            diff += d * d
            moved += m * m
        }
        return (diff / max(moved, 1e-30)).squareRoot()
    }

    /// Ghost batch norm (`--bn-group`): a rank normalising groups of 2 of its images computes what
    /// ranks of 2 images compute, to the summation order (gradients and statistics are summed inside
    /// a rank instead of across ranks): 1 rank x 8 and 2 ranks x 4 in groups of 2 against 4 ranks x 2.
    /// A group as large as the shard is no group at all, bit for bit. A shard that the group does
    /// not divide ends with a smaller group: 1 rank x 7 in groups of 4 is 2 ranks of 4 and 3 images.
    @Test func ghostBatchNormComputesWhatSmallerRanksDo() throws {
        func run(_ replicas: Int, group: Int?, iterations: Int, batch: Int = 8) throws -> ParameterStore {
            var config = smallConfig(depth: 8, batch: batch, iterations: iterations, lr: 0.02)
            config.batchNormGroup = group
            return try InProcessReplicas.run(
                replicas: replicas, config: config, train: data, test: nil, normalization: .perPixelMean(of: data),
                logger: quietLogger)[0].trainer.network.store
        }
        for iterations in [1, 3] {
            let ranks = try run(4, group: nil, iterations: iterations)
            for (replicas, label) in [(1, "1 rank x 8"), (2, "2 ranks x 4")] {
                let grouped = try run(replicas, group: 2, iterations: iterations)
                let worst = worstRelativeDifference(ranks, grouped)
                print("ghost BN, \(label), \(iterations) step(s): \(worst.tensor) differs by \(worst.value)")
                #expect(worst.value < 1e-4, "\(label), \(iterations) steps: \(worst.tensor) differs by \(worst.value)")
            }
            // Without groups, 1 rank normalising 8 images is another network.
            let whole = worstRelativeDifference(ranks, try run(1, group: nil, iterations: iterations))
            #expect(whole.value > 1e-3, "per-rank statistics of 8 images differ by only \(whole.value)")
        }
        let uneven = worstRelativeDifference(
            try run(2, group: nil, iterations: 3, batch: 7), try run(1, group: 4, iterations: 3, batch: 7))
        print("ghost BN, 1 rank x 7 in groups of 4 against 2 ranks of 4 and 3: \(uneven.tensor) differs by \(uneven.value)")
        #expect(uneven.value < 1e-4, "1 rank x 7, groups of 4: \(uneven.tensor) differs by \(uneven.value)")
        let shardSized = try run(2, group: 4, iterations: 3)
        let none = try run(2, group: nil, iterations: 3)
        #expect(
            (0..<none.parameterCount).allSatisfy { none.values[$0].bitPattern == shardSized.values[$0].bitPattern })
    }

    /// Without sync BN each rank normalises with its own shard's statistics. One step of 2 ranks x 4
    /// images is, bit for bit, the update by the sum of two separate passes, each over one shard
    /// alone; and it is not the step of one rank normalising all 8 images together.
    @Test func perRankBatchNormNormalisesEachShardAlone() throws {
        let ranks = try run(replicas: 2, batch: 8, iterations: 1, syncBN: false)
        let config = smallConfig(depth: 8, batch: 8, iterations: 1, lr: 0.02)
        let loader = BatchLoader(
            data: data, globalBatch: 8, seed: config.seed, augment: config.augment,
            normalization: .perPixelMean(of: data), padding: config.padding)
        let net = Network(config.architecture, batchCapacity: 4)
        net.initialize(seed: config.seed)
        let store = net.store
        var summed = [Float](repeating: 0, count: store.parameterCount)
        for rank in 0..<2 {
            var shard = ShardedBatches(source: loader, rank: rank, worldSize: 2)
            let (images, global) = try shard.load(iteration: 0, into: net)
            #expect(images == 4)
            try net.trainStep(batch: images, gradScale: 1 / Float(global))
            for i in summed.indices { summed[i] += store.gradients[i] }
        }
        store.gradients.update(from: summed, count: summed.count)
        config.optimizer.step(store, learningRate: Float(config.schedule.learningRate(iteration: 0, warmupDone: true)))
        let trained = ranks[0].trainer.network.store
        let differing = (0..<store.parameterCount).filter { store.values[$0].bitPattern != trained.values[$0].bitPattern }
        #expect(differing.isEmpty, "\(differing.count) of \(store.parameterCount) parameters differ")

        let one = try run(replicas: 1, batch: 8, iterations: 1, syncBN: false)[0].trainer.network.store
        #expect((0..<store.parameterCount).contains { one.values[$0] != trained.values[$0] })
    }
}
