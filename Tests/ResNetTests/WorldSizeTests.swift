import Distributed
import Foundation
import Testing

@testable import ResNet

/// Any number of ranks for any global batch: shards of floor(B/N) or ceil(B/N) images, ranks that
/// hold nothing in a short last batch, and the same collectives on every rank whatever it holds.
struct WorldSizeTests {
    /// 66 images at batch 16: four full batches, then one of 2 images, so with 3 or 4 ranks some
    /// ranks sit idle at every epoch's end.
    let data = SyntheticData.make(count: 66, seed: 5)

    func run(
        replicas: Int, batch: Int, iterations: Int, syncBN: Bool, lr: Double = 0.02
    ) throws -> [(trainer: Trainer, result: TrainingResult)] {
        try trainReplicas(replicas, on: data, batch: batch, iterations: iterations, syncBN: syncBN, lr: lr)
    }

    /// Whether two stores hold equal values (== on floats: -0 and +0 count as equal, since a sum
    /// with an idle rank's +0 may turn one into the other).
    func equalValues(_ a: ParameterStore, _ b: ParameterStore) -> Bool {
        a.valueBuffer.elementsEqual(b.valueBuffer) && a.runningStatistics.elementsEqual(b.runningStatistics)
            && a.momentumBuffer.elementsEqual(b.momentumBuffer)
    }

    /// A rank that holds nothing adds nothing: 3 and 4 ranks on a batch of 2 (one image on each of
    /// the first two ranks, none on the others) train exactly what 2 ranks do, with per-rank and
    /// with synchronised batch norm. Gradients gain only +0s, and the running statistics are
    /// weighted by images (an equal-weight average would give the idle ranks a third or a half).
    @Test(arguments: [false, true])
    func idleRanksChangeNothing(syncBN: Bool) throws {
        let two = try run(replicas: 2, batch: 2, iterations: 12, syncBN: syncBN)
        for world in [3, 4] {
            let many = try run(replicas: world, batch: 2, iterations: 12, syncBN: syncBN)
            #expect(many[0].result.replicasIdentical)
            #expect(many[0].result.losses == two[0].result.losses, "\(world) ranks, sync BN \(syncBN)")
            #expect(equalValues(many[0].trainer.network.store, two[0].trainer.network.store))
        }
    }

    /// 3 ranks on a batch of 16 (6, 5 and 5 images), through epoch ends where the 2-image batch
    /// leaves a rank idle: with sync BN, the same losses as one process on the whole batch, to the
    /// rounding of float32 sums taken in another order. Until the first 2-image step the losses
    /// agree to 2e-8; that step's batch norm over 2 images amplifies the rounding, and once a ReLU
    /// input lies within it of 0 the runs part by more (2.5e-4 at step 11 here: see
    /// ReplicaTests.syncBatchNormEquivalence and docs/RESULTS.md, "Any number of ranks").
    @Test func worldSizeThatDoesNotDivideTheBatch() throws {
        let one = try run(replicas: 1, batch: 16, iterations: 12, syncBN: false)
        let three = try run(replicas: 3, batch: 16, iterations: 12, syncBN: true)
        #expect(three[0].result.replicasIdentical)
        let differences = zip(one[0].result.losses, three[0].result.losses).map { abs($0 - $1) / $0 }
        #expect(differences.count == 12)
        #expect(differences.prefix(4).max()! < 1e-6, "before the first 2-image step: \(differences)")
        #expect(differences.max()! < 1e-3, "\(differences)")
        print("3 ranks x batch 16 (6/5/5, idle ranks at epoch ends), sync BN, loss differences: \(differences)")
    }

    /// The plan covers the gradient buffer once, from the end, cut at parameter boundaries; every
    /// bucket but the last holds at least the bucket size.
    @Test(arguments: [1, 1000, 10000, 1 << 18, 1 << 30])
    func bucketPlanCoversTheBufferAtParameterBoundaries(bucketFloats: Int) throws {
        let network = Network(try Architecture.parse("resnet20"), batchCapacity: 1)
        let store = network.store
        let plan = GradientBucketPlan(parameters: store.parameters, bucketFloats: bucketFloats)
        let boundaries = Set(store.parameters.map(\.offset) + [store.parameterCount])
        var end = store.parameterCount
        for (i, bucket) in plan.buckets.enumerated() {
            #expect(bucket.upperBound == end && boundaries.contains(bucket.lowerBound))
            if i < plan.buckets.count - 1 { #expect(bucket.count >= bucketFloats) }
            end = bucket.lowerBound
        }
        #expect(end == 0)
        if bucketFloats == 1 { #expect(plan.buckets.count == store.parameters.count) }
        if bucketFloats == 1 << 30 { #expect(plan.buckets == [0..<store.parameterCount]) }
    }

    /// The collectives one rank issues in a step, recorded in order: a rank with 4 images and a
    /// rank with none issue the same ones (kind and length), with and without sync BN, and with
    /// more buckets than request slots.
    @Test(arguments: [(false, 1.0), (true, 1.0), (false, 1e-9)])
    func anIdleRankIssuesTheSameCollectives(syncBN: Bool, bucketMiB: Double) throws {
        func collectives(images: Int) throws -> [String] {
            let network = Network(try Architecture.parse("resnet32"), batchCapacity: 4)
            network.initialize(seed: 1)
            let recorder = RecordingCommunicator()
            let step = DataParallelStep(
                network: network, communicator: recorder, optimizer: SGD(), syncBatchNorm: syncBN,
                bucketMiB: bucketMiB)
            _ = try step.run(images: images, globalImages: 8, learningRate: 0.1)
            return recorder.log
        }
        let busy = try collectives(images: 4)
        let idle = try collectives(images: 0)
        #expect(busy == idle)
        #expect(busy.filter { $0.hasPrefix("start") }.count >= (bucketMiB < 0.01 ? maxPendingReductions + 1 : 2))
        // Each of ResNet-32's 31 batch norms sums its statistics forward and back; then the loss totals.
        if syncBN { #expect(busy.filter { $0.hasPrefix("f64") }.count == 2 * 31 + 1) }
    }
}

/// A communicator of two ranks that only records what it is asked (the sums stay local).
final class RecordingCommunicator: Communicator {
    let rank = 0
    let size = 2
    var log: [String] = []
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws { log.append("f32 \(buffer.count)") }
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws { log.append("f64 \(buffer.count)") }
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Int64>) throws { log.append("i64 \(buffer.count)") }
    func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int) throws {
        log.append("start \(buffer.count) slot \(slot)")
    }
    func startAllReduceSum(bfloat16 buffer: UnsafeMutableBufferPointer<UInt16>, slot: Int) throws {
        log.append("start bf16 \(buffer.count) slot \(slot)")
    }
    func pollReductions() throws {}
    func waitReduction(slot: Int) throws { log.append("wait \(slot)") }
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws { log.append("bcast \(buffer.count)") }
    func barrier() throws { log.append("barrier") }
    func abort(code: Int32) -> Never { fatalError("abort \(code)") }
}
