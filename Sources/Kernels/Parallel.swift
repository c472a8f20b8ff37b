import Dispatch

/// One parallel region: what chunk `chunk` of it does. A small struct of everything the chunks
/// read and write (pointers, sizes, the chunk count), in place of a closure that captures them:
/// handing a capturing closure to other threads costs a heap box per region (180 a step of
/// ResNet-20 at 2 threads), a struct on the caller's stack costs nothing. Make regions concrete
/// (non-generic) types: the workers call `run` through the conformance, and a generic type's
/// conformance runs unspecialised code (measured 3-6% slower a step at 2 threads); a concrete
/// region may call generic `@inline(__always)` helpers, which are specialised into it.
public protocol ParallelRegion {
    func run(chunk: Int)
}

/// Runs `region.run(chunk:)` for `chunk` in `0..<chunks`, on up to `chunks` threads at once
/// (`ChunkPool`: the workers get the region's address and type). With one chunk the region runs
/// inline, so a single-threaded run never touches a thread pool. Allocates nothing.
@inlinable
public func parallelChunks<Region: ParallelRegion>(_ chunks: Int, _ region: Region) {
    if chunks <= 1 {
        region.run(chunk: 0)
        return
    }
    let ran = withUnsafePointer(to: region) {
        ChunkPool.shared.run(chunks, region: UnsafeRawPointer($0), type: Region.self)
    }
    if !ran {
        DispatchQueue.concurrentPerform(iterations: chunks) { region.run(chunk: $0) }
    }
}

extension ParallelRegion {
    /// Chunk `chunk` of the region of this type at `region` (how `ChunkPool`'s workers call it).
    static func run(at region: UnsafeRawPointer, chunk: Int) {
        region.assumingMemoryBound(to: Self.self).pointee.run(chunk: chunk)
    }
}

/// How long the threads of `parallelChunks` spin for the next region before they sleep, for this
/// process (`RESNET_DIST_SPIN_US` wins when set). Spinning saves a worker's wake-up at each region
/// (a few microseconds under a hypervisor, hundreds of times a step at small shards) but burns a core
/// that another rank may need: give it only to threads that have cores of their own.
public func setWorkerSpin(microseconds: Int) {
    ChunkPool.shared.setSpin(nanoseconds: UInt64(max(0, microseconds)) * 1000)
}

/// How long they spin now (`setWorkerSpin`, or `RESNET_DIST_SPIN_US`).
public func workerSpinMicroseconds() -> Int { Int(ChunkPool.shared.spinNanoseconds / 1000) }

/// The half-open range of items `0..<count` that chunk `index` of `chunks` owns
/// (contiguous, sizes differing by at most one).
@inlinable
public func chunkRange(_ index: Int, of chunks: Int, count: Int) -> Range<Int> {
    let base = count / chunks
    let extra = count % chunks
    let start = index * base + min(index, extra)
    return start..<start + base + (index < extra ? 1 : 0)
}

/// What the thread pool counted with `RESNET_DIST_POOL_STATS=1` (`bench` prints it).
public struct ParallelPoolStatistics: Sendable {
    public struct Region: Sendable {
        public let name: String
        public let regions: Int
        public let joinWaitSeconds: Double
        public let chunksByWorkers: Int
    }
    public let regions: Int
    public let chunks: Int
    public let chunksByWorkers: Int
    /// Seconds the calling thread waited at joins for the workers' chunks.
    public let joinWaitSeconds: Double
    /// Mean time from a region's publication to a worker seeing it.
    public let meanWakeSeconds: Double
    /// The same by region type, most waited first.
    public let byRegion: [Region]
}

/// What the pool counted since the last reset (nil without `RESNET_DIST_POOL_STATS=1`).
public func parallelPoolStatistics(reset: Bool = false) -> ParallelPoolStatistics? {
    ChunkPool.recordsStatistics ? ChunkPool.statistics(reset: reset) : nil
}
