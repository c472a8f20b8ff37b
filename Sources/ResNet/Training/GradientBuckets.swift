import Distributed

/// Sums the contiguous gradient buffer over all ranks in buckets that start while backward is
/// still running: backward fills the buffer from its end (the fc) to its start (the first conv),
/// and whenever at least `bucketFloats` finished gradients have accumulated they go out as one
/// non-blocking all-reduce. Bucket boundaries depend only on the layer offsets, so every rank
/// reduces the same buckets in the same order. `finish()` sends the rest and waits for all.
final class GradientBuckets {
    let communicator: Communicator
    let gradients: UnsafeMutablePointer<Float>
    let count: Int
    let bucketFloats: Int
    private var pendingEnd = 0
    private var started = 0

    /// 256 Ki floats (1 MiB) per bucket by default.
    init(communicator: Communicator, store: ParameterStore, bucketFloats: Int = 1 << 18) {
        self.communicator = communicator
        gradients = store.gradients
        count = store.parameterCount
        self.bucketFloats = max(1, bucketFloats)
    }

    /// Call before each backward pass.
    func begin() {
        pendingEnd = count
        started = 0
    }

    /// Gradients from `offset` on are final: start a bucket if enough have gathered.
    func ready(from offset: Int) throws {
        if pendingEnd - offset >= bucketFloats && started < maxPendingReductions - 1 {
            try start(offset)
        }
        try communicator.pollReductions()
    }

    private func start(_ offset: Int) throws {
        try communicator.startAllReduceSum(
            UnsafeMutableBufferPointer(start: gradients + offset, count: pendingEnd - offset),
            slot: started)
        started += 1
        pendingEnd = offset
    }

    /// Sends what is left and waits until every gradient holds its sum over ranks.
    func finish() throws {
        if pendingEnd > 0 { try start(0) }
        for slot in 0..<started { try communicator.waitReduction(slot: slot) }
    }
}
