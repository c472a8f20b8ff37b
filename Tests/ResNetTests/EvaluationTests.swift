import Foundation
import Kernels
import Testing

@testable import ResNet

/// The test pass decodes its next batches on decode threads while the network runs (as training
/// does): the same sums as filling each batch in place, for any share of the test set.
struct EvaluationTests {
    let test = SyntheticData.make(count: 100, seed: 6)

    /// The pass as it was written before the prefetch: each batch filled in place, in stored order,
    /// scored as the pass scores it.
    func inPlace(_ network: Network, _ source: BatchLoader, range: Range<Int>) throws -> StepStats {
        let identity = (0..<Int32(source.count)).map { $0 }
        var totals = StepStats()
        for start in stride(from: range.lowerBound, to: range.upperBound, by: network.batchCapacity) {
            let end = min(start + network.batchCapacity, range.upperBound)
            let n = source.fill(
                epoch: 0, order: identity, positions: start..<end, images: network.inputImages,
                labels: network.inputLabels)
            let logits = try network.forward(batch: n, training: false)
            let scratch = UnsafeMutablePointer<Double>.allocate(capacity: 10)
            defer { scratch.deallocate() }
            let batch = ViewAveragedScores.score(
                logits: logits, labels: network.inputLabels, images: n, views: 1, classes: 10, scratch: scratch)
            totals += StepStats(
                lossSum: batch.lossSum, correct: Double(batch.top1), images: Double(n), correctTop5: Double(batch.top5))
        }
        return totals
    }

    @Test(arguments: [0..<100, 7..<93, 0..<16, 40..<41])
    func decodingAheadGivesThePassOfFillingInPlace(range: Range<Int>) throws {
        let network = Network(try Architecture.parse("resnet8"), batchCapacity: 16)
        let source = BatchLoader(
            data: test, globalBatch: 16, seed: 0, augment: false, normalization: .perPixelMean(of: test))
        let expected = try inPlace(network, source, range: range)
        for threads in [0, 1, 3] {
            var seen: [Int] = []
            let pass = try #require(
                try Evaluation.run(
                    network, on: source, range: range, decodeThreads: threads, progress: { done, _ in seen.append(done) }))
            #expect(pass == expected, "\(threads) threads")
            #expect(pass.images == Double(range.count))
            let batches = Array(stride(from: 16, to: range.count, by: 16)) + [range.count]
            #expect(seen == batches, "\(threads) threads")
        }
    }

    @Test func aStopRequestEndsThePrefetchedPassBetweenBatches() throws {
        let network = Network(try Architecture.parse("resnet8"), batchCapacity: 16)
        let source = BatchLoader(
            data: test, globalBatch: 16, seed: 0, augment: false, normalization: .perPixelMean(of: test))
        var asked = 0
        var batches = 0
        let pass = try Evaluation.run(
            network, on: source, range: 0..<100, decodeThreads: 2, progress: { _, _ in batches += 1 },
            stopRequested: {
                asked += 1
                return asked == 3
            })
        #expect(pass == nil && batches == 2)
    }
}
