import Kernels

/// The test-set pass, the one evaluation loop (the trainer's and `eval`'s): images `range` of
/// `source` (views without augmentation) through `network` in eval mode (running BN statistics), at
/// most `batchCapacity` inputs at a time; with several views per image (ten-crop) their softmax
/// outputs are averaged. With `decodeThreads` > 0 the next batches are decoded on that many threads
/// while the network runs (`BatchPrefetcher`; the same bits as decoding in place). `progress` hears
/// of every batch (images done, images in `range`). `stopRequested` is asked before every batch:
/// when it says yes the pass ends there and returns nil (a stop signal must not wait for a whole
/// test set: mpirun kills its ranks a second after it forwards SIGTERM).
public enum Evaluation {
    public static func run(
        _ network: Network, on source: any BatchSource, range: Range<Int>, decodeThreads: Int = 0,
        progress: ((_ done: Int, _ count: Int) -> Void)? = nil, stopRequested: () -> Bool = { false }
    ) throws -> StepStats? {
        let views = source.viewsPerImage
        let perBatch = network.batchCapacity / views
        guard perBatch >= 1 else {
            throw ResNetError(
                .configuration, "a batch of \(network.batchCapacity) cannot hold the \(views) views of one image")
        }
        let classes = network.architecture.classes
        let scores = UnsafeMutablePointer<Double>.allocate(capacity: classes)
        defer { scores.deallocate() }
        let slice = TestSetSlice(source, range: range, batch: perBatch)
        var batches = ShardedBatches(
            source: slice, rank: 0, worldSize: 1, decodeThreads: decodeThreads, capacity: perBatch)
        var totals = StepStats()
        var done = 0
        for index in 0..<slice.batchesPerEpoch {
            if stopRequested() { return nil }
            let (n, _) = try batches.load(iteration: index, into: network)
            let logits = try network.forward(batch: n * views, training: false)
            let batch = ViewAveragedScores.score(
                logits: logits, labels: network.inputLabels, images: n, views: views, classes: classes,
                scratch: scores)
            totals += StepStats(
                lossSum: batch.lossSum, correct: Double(batch.top1), images: Double(n), correctTop5: Double(batch.top5))
            done += n
            progress?(done, range.count)
        }
        return totals
    }

    /// CIFAR-10 in memory, normalised by `normalization`.
    public static func run(
        _ network: Network, on data: LabeledImages, range: Range<Int>, normalization: Normalization,
        decodeThreads: Int = 0, progress: ((_ done: Int, _ count: Int) -> Void)? = nil,
        stopRequested: () -> Bool = { false }
    ) throws -> StepStats? {
        let loader = BatchLoader(
            data: data, globalBatch: network.batchCapacity, seed: 0, augment: false, normalization: normalization)
        return try run(
            network, on: loader, range: range, decodeThreads: decodeThreads, progress: progress,
            stopRequested: stopRequested)
    }
}
