import Dispatch

/// Runs `body(chunk)` for `chunk` in `0..<chunks`, on up to `chunks` threads at once (`ChunkPool`).
/// With one chunk the body runs inline, so a single-threaded run never touches a thread pool.
@inlinable
public func parallelChunks(_ chunks: Int, _ body: (Int) -> Void) {
    if chunks <= 1 {
        body(0)
    } else if !ChunkPool.shared.run(chunks, body) {
        DispatchQueue.concurrentPerform(iterations: chunks, execute: body)
    }
}

/// The half-open range of items `0..<count` that chunk `index` of `chunks` owns
/// (contiguous, sizes differing by at most one).
@inlinable
public func chunkRange(_ index: Int, of chunks: Int, count: Int) -> Range<Int> {
    let base = count / chunks
    let extra = count % chunks
    let start = index * base + min(index, extra)
    return start..<start + base + (index < extra ? 1 : 0)
}

/// How long the threads of `parallelChunks` spin, waiting for the next parallel region, before
/// they sleep (`ChunkPool`). Spinning pays when a rank's threads have cores of their own and its
/// regions are short (a shard of a few images); it costs when cores are shared.
public enum WorkerSpin {
    /// The default when the threads have cores of their own.
    public static let ownCoresMicroseconds: UInt64 = 100

    /// Sets the spin, unless `RESNET_DIST_SPIN_US` fixes it; returns the spin in effect.
    @discardableResult
    public static func set(microseconds: UInt64) -> UInt64 {
        let chosen = ChunkPool.environmentSpinMicroseconds ?? microseconds
        ChunkPool.shared.spin.store(chosen * 1000, ordering: .relaxed)
        return chosen
    }
}
