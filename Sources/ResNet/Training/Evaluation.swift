/// The test-set pass, the one evaluation loop (the trainer's and `eval`'s): images `range` of
/// `data` through `network` in eval mode (running BN statistics), at most `batchCapacity` at a time;
/// `progress` hears of every batch (images done, images in `range`). `stopRequested` is asked
/// before every batch: when it says yes the pass ends there and returns nil (a stop signal must not
/// wait for a whole test set: mpirun kills its ranks a second after it forwards SIGTERM).
public enum Evaluation {
    public static func run(
        _ network: Network, on data: LabeledImages, range: Range<Int>,
        normalization: Normalization, progress: ((_ done: Int, _ count: Int) -> Void)? = nil,
        stopRequested: () -> Bool = { false }
    ) throws -> StepStats? {
        let loader = BatchLoader(
            data: data, globalBatch: network.batchCapacity, seed: 0, augment: false,
            normalization: normalization)
        let identity = (0..<Int32(data.count)).map { $0 }
        var totals = StepStats()
        var start = range.lowerBound
        while start < range.upperBound {
            if stopRequested() { return nil }
            let end = min(start + network.batchCapacity, range.upperBound)
            let n = loader.fill(
                epoch: 0, order: identity, positions: start..<end,
                images: network.inputImages, labels: network.inputLabels)
            let (loss, correct) = try network.evaluate(batch: n)
            totals += StepStats(lossSum: loss, correct: Double(correct), images: Double(n))
            start = end
            progress?(end - range.lowerBound, range.count)
        }
        return totals
    }
}
