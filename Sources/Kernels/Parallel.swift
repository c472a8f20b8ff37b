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
