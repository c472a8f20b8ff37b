import Dispatch
import Synchronization
import Testing

@testable import Kernels

/// `parallelChunks` runs every chunk exactly once, whoever calls it and however the pool's workers
/// wait: a chunk lost or run twice would silently drop or double a share of a batch.
struct ChunkPoolTests {
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// A region that counts the runs of each of its chunks.
    struct CountEachChunk: ParallelRegion {
        let runs: [Counter]
        func run(chunk c: Int) { runs[c].value.wrappingAdd(1, ordering: .relaxed) }
    }

    /// Runs `jobs` jobs of 2...9 chunks on `pool` and counts each chunk's runs.
    func countRuns(_ pool: ChunkPool, jobs: Int) -> (all: Int, exact: Bool) {
        let runs = (0..<9).map { _ in Counter() }
        var exact = true
        var all = 0
        for job in 0..<jobs {
            let chunks = 2 + job % 8
            for c in 0..<chunks { runs[c].value.store(0, ordering: .relaxed) }
            let region = CountEachChunk(runs: runs)
            let ran = withUnsafePointer(to: region) {
                pool.run(chunks, region: UnsafeRawPointer($0), type: CountEachChunk.self)
            }
            #expect(ran, "the pool was free, so it must run the job")
            for c in 0..<chunks {
                let count = runs[c].value.load(ordering: .relaxed)
                exact = exact && count == 1
                all += count
            }
        }
        return (all, exact)
    }

    @Test(arguments: [0, 100_000] as [UInt64])
    func everyChunkRunsExactlyOnce(spinNanoseconds: UInt64) {
        let pool = ChunkPool(spinNanoseconds: spinNanoseconds)
        let jobs = 3000
        let expected = (0..<jobs).reduce(0) { $0 + 2 + $1 % 8 }
        let result = countRuns(pool, jobs: jobs)
        #expect(result.exact && result.all == expected)
    }

    struct Count: ParallelRegion {
        let total: Counter
        func run(chunk: Int) { total.value.wrappingAdd(1, ordering: .relaxed) }
    }

    struct CountInANestedRegion: ParallelRegion {
        let total: Counter
        func run(chunk: Int) { parallelChunks(2, Count(total: total)) }
    }

    @Test func aSecondCallerAndANestedRegionFallBackAndStillRunEveryChunk() {
        // Four callers at once on the shared pool (in-process replicas do this), each chunk of which
        // opens a nested region: the ones that find the pool busy go through libdispatch.
        let total = Counter()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<200 { parallelChunks(3, CountInANestedRegion(total: total)) }
        }
        #expect(total.value.load(ordering: .relaxed) == 4 * 200 * 3 * 2)
    }
}
