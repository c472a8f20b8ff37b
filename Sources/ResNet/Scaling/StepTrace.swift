import Foundation
import Kernels

/// One rank's training step as the scaling model and its emulation see it: when, after the step
/// began, backward had finished the gradients from each offset on (the moments the gradient buckets
/// may start), when forward and backward ended, and how long the update took. Medians over
/// measured steps on one rank, which talks to no one.
public struct StepTrace: Codable, Sendable, Equatable {
    /// The gradients from `offset` on were final `seconds` after the step began.
    public struct Ready: Codable, Sendable, Equatable {
        public var offset: Int
        public var seconds: Double
    }

    public var architecture: Architecture
    public var imagesPerRank: Int
    public var threads: Int
    public var parameterCount: Int
    /// Floats of running batch-norm statistics (averaged over the ranks after every step).
    public var statisticsCount: Int
    public var readies: [Ready]
    /// Forward, loss and backward.
    public var computeSeconds: Double
    /// The optimizer's update.
    public var updateSeconds: Double
    /// Where it was measured (the CPU's model name and instruction set).
    public var machine: String

    /// Times `steps` steps (after `warmup` untimed ones) of `network` on `images` random images
    /// with no replicas, recording every `gradientsReady` the network reports.
    public static func record(
        network: Network, images: Int, optimizer: SGD, steps: Int, warmup: Int, machine: String
    ) throws -> StepTrace {
        precondition(images >= 1 && images <= network.batchCapacity && steps >= 1)
        var rng = SplitMix64(seed: 11)
        for i in 0..<(images * network.imageFloats) { network.inputImages[i] = rng.nextNormal() }
        for i in 0..<images { network.inputLabels[i] = Int32(i % network.architecture.classes) }
        let clock = ReadyClock()
        var readies: [[Double]] = []
        var offsets: [Int] = []
        var computes: [Double] = []
        var updates: [Double] = []
        for step in 0..<(warmup + steps) {
            clock.begin()
            _ = try network.trainStep(batch: images, gradScale: 1 / Float(images), replicas: clock)
            let computed = monotonicSeconds()
            optimizer.step(network.store, learningRate: 1e-4, threads: network.threads)
            let updated = monotonicSeconds()
            guard step >= warmup else { continue }
            if offsets.isEmpty { offsets = clock.events.map(\.offset) }
            precondition(offsets == clock.events.map(\.offset), "backward reported its gradients in another order")
            readies.append(clock.events.map(\.seconds))
            computes.append(computed - clock.start)
            updates.append(updated - computed)
        }
        return StepTrace(
            architecture: network.architecture, imagesPerRank: images, threads: network.threads,
            parameterCount: network.store.parameterCount, statisticsCount: network.store.bufferCount,
            readies: offsets.indices.map { i in Ready(offset: offsets[i], seconds: median(readies.map { $0[i] })) },
            computeSeconds: median(computes), updateSeconds: median(updates), machine: machine)
    }

    /// When the bucket covering `bucket` may start: the first report that finishes all of it, or
    /// the end of backward (a bucket nothing reported, started by `GradientBuckets.finish`).
    public func readySeconds(of bucket: Range<Int>) -> Double {
        readies.first { $0.offset <= bucket.lowerBound }?.seconds ?? computeSeconds
    }
}

extension StepTrace {
    /// The first moment at or after `seconds` at which the traced rank is inside MPI and so moves
    /// its non-blocking all-reduces on: a report of finished gradients during backward (the trainer
    /// polls its reductions at each), or, from the end of backward on, any moment (it waits in MPI).
    public func progressMoment(atOrAfter seconds: Double) -> Double {
        guard seconds < computeSeconds else { return seconds }
        return readies.lazy.map(\.seconds).filter { $0 >= seconds }.min() ?? computeSeconds
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// The replica link of a lone rank that only notes when each report came.
private final class ReadyClock: ReplicaLink {
    var start = 0.0
    var events: [(offset: Int, seconds: Double)] = []
    var synchronizesStatistics: Bool { false }
    func begin() {
        events.removeAll(keepingCapacity: true)
        start = monotonicSeconds()
    }
    func gradientsReady(from offset: Int) throws { events.append((offset, monotonicSeconds() - start)) }
    func sumOverReplicas(_ statistics: UnsafeMutableBufferPointer<Double>) throws {}
}
