import CPUFeatures
import Dispatch
import Foundation
import Synchronization

/// The threads behind `parallelChunks`: workers that wait between parallel regions on a condition
/// variable (optionally spinning a bounded while first).
///
/// A training step is a chain of hundreds of short parallel regions (three passes per convolution,
/// batch norm, activations), a few microseconds of serial work apart. A worker that sleeps between
/// them (as libdispatch's do) costs a vCPU wake-up each time, tens of microseconds under a
/// hypervisor. So a worker may first spin for `spinNanoseconds` (with the CPU's pause hint, yielding
/// its core now and then) before it waits on a condition variable. The spin is bounded, so a core
/// shared with another rank loses at most that much per region rather than collapsing as a pool
/// that always spins does. The command line sets it once at start-up (`setWorkerSpin`: a spin only
/// when the rank's threads have cores of their own); `RESNET_DIST_SPIN_US` overrides that; a pool
/// nobody configured sleeps at once.
///
/// A job is claimed chunk by chunk through one 64-bit ticket, `generation | chunks | next index`,
/// so a late worker can never take a chunk of a job it did not see published. Which thread runs a
/// chunk never changes its result: every kernel writes by chunk index. One caller at a time uses
/// the pool; a second one at the same moment (in-process replicas, a nested region) falls back to
/// libdispatch.
///
/// A job is the address of a `ParallelRegion` on the caller's stack and its type (`parallelChunks`),
/// so a region allocates nothing (`step-allocations ... --threads 2`: 0; libdispatch's
/// `concurrentPerform` allocated 613 times a step of ResNet-20). One thread never comes here.
@usableFromInline
final class ChunkPool: @unchecked Sendable {
    @usableFromInline static let shared = ChunkPool()

    /// How long a worker spins for the next region before it sleeps.
    var spinNanoseconds: UInt64 { spin.load(ordering: .relaxed) }
    private let spin: Atomic<UInt64>
    /// `RESNET_DIST_SPIN_US`, which wins over `setWorkerSpin`.
    private let spinFromEnvironment: Bool
    /// `generation << 40 | chunks << 24 | next chunk index`.
    private let ticket = Atomic<UInt64>(0)
    private let finished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let inUse = Atomic<Bool>(false)
    /// `RESNET_DIST_POOL_STATS=1`: count where the regions' time goes (`statistics`), for `bench`.
    /// Off, it costs one branch a region.
    static let recordsStatistics = ProcessInfo.processInfo.environment["RESNET_DIST_POOL_STATS"] == "1"
    /// The same, read once for this pool (a stored flag, not a lazily initialised global, on the
    /// path of every region).
    private let counts: Bool
    private let publishedAt = Atomic<UInt64>(0)
    private let regionsRun = Atomic<UInt64>(0)
    private let chunksRun = Atomic<UInt64>(0)
    private let chunksByWorkers = Atomic<UInt64>(0)
    private let joinWaitNanoseconds = Atomic<UInt64>(0)
    private let wakeNanoseconds = Atomic<UInt64>(0)
    private let wakes = Atomic<UInt64>(0)
    private let statsLock = NSLock()
    /// Region type -> (regions, nanoseconds waited at joins, chunks the workers ran).
    private nonisolated(unsafe) var waitByRegion: [ObjectIdentifier: (String, UInt64, UInt64, UInt64)] = [:]
    private nonisolated(unsafe) var region: UnsafeRawPointer?
    private nonisolated(unsafe) var regionType: (any ParallelRegion.Type)?
    private var workers = 0
    private let lock = NSCondition()

    private static let indexBits: UInt64 = 24
    private static let chunkBits: UInt64 = 16
    private static let indexMask: UInt64 = (1 << indexBits) - 1
    private static let chunkMask: UInt64 = (1 << chunkBits) - 1
    /// Most chunks a job may have (the ticket's field).
    static let maxChunks = Int(chunkMask)

    /// `RESNET_DIST_SPIN_US` if set, else 0 until `setWorkerSpin` says otherwise.
    convenience init() {
        let microseconds = ProcessInfo.processInfo.environment["RESNET_DIST_SPIN_US"].flatMap { UInt64($0) }
        self.init(spinNanoseconds: (microseconds ?? 0) * 1000, fromEnvironment: microseconds != nil)
    }

    init(spinNanoseconds: UInt64, fromEnvironment: Bool = false) {
        spin = Atomic(spinNanoseconds)
        spinFromEnvironment = fromEnvironment
        counts = Self.recordsStatistics
    }

    /// Sets the workers' spin, unless `RESNET_DIST_SPIN_US` set it.
    func setSpin(nanoseconds: UInt64) {
        if !spinFromEnvironment { spin.store(nanoseconds, ordering: .relaxed) }
    }

    /// Runs chunk `c` of the region at `region` (of type `type`) for every `c` in `0..<chunks`, on
    /// the calling thread and up to `chunks - 1` workers; returns when all are done. False (nothing
    /// run) when another caller holds the pool.
    @usableFromInline func run(_ chunks: Int, region: UnsafeRawPointer, type: any ParallelRegion.Type) -> Bool {
        guard chunks <= Self.maxChunks,
            inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        defer { inUse.store(false, ordering: .releasing) }
        startWorkers(chunks - 1)
        self.region = region
        regionType = type
        finished.store(0, ordering: .relaxed)
        let stats = counts
        if stats { publishedAt.store(monotonicNanoseconds(), ordering: .relaxed) }
        let generation = (ticket.load(ordering: .relaxed) >> (Self.indexBits + Self.chunkBits)) &+ 1
        ticket.store(
            generation << (Self.indexBits + Self.chunkBits) | UInt64(chunks) << Self.indexBits,
            ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            lock.lock()
            lock.broadcast()
            lock.unlock()
        }
        let byCaller = runClaimedChunks()
        let joinStart = stats ? monotonicNanoseconds() : 0
        var spins = 0
        while finished.load(ordering: .acquiring) < chunks {
            spins += 1
            if spins & 1023 == 0 { sched_yield() } else { rd_spin_pause() }
        }
        if stats { record(type, chunks: chunks, byWorkers: chunks - byCaller, waited: monotonicNanoseconds() &- joinStart) }
        self.region = nil
        regionType = nil
        return true
    }

    /// Claims and runs chunks of the current job until none is left; returns how many it ran.
    @discardableResult private func runClaimedChunks() -> Int {
        var ran = 0
        while true {
            let claimed = ticket.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
            let index = Int(claimed & Self.indexMask)
            guard index < Int((claimed >> Self.indexBits) & Self.chunkMask) else { return ran }
            regionType!.run(at: region!, chunk: index)
            ran += 1
            finished.wrappingAdd(1, ordering: .releasing)
        }
    }

    private func record(_ type: any ParallelRegion.Type, chunks: Int, byWorkers: Int, waited: UInt64) {
        joinWaitNanoseconds.wrappingAdd(waited, ordering: .relaxed)
        regionsRun.wrappingAdd(1, ordering: .relaxed)
        chunksRun.wrappingAdd(UInt64(chunks), ordering: .relaxed)
        chunksByWorkers.wrappingAdd(UInt64(byWorkers), ordering: .relaxed)
        statsLock.lock()
        let key = ObjectIdentifier(type)
        let before = waitByRegion[key] ?? (String(describing: type), 0, 0, 0)
        waitByRegion[key] = (before.0, before.1 + 1, before.2 + waited, before.3 + UInt64(byWorkers))
        statsLock.unlock()
    }

    /// What was counted since the last reset (and reset it, with `reset`).
    static func statistics(reset: Bool = false) -> ParallelPoolStatistics {
        let pool = shared
        pool.statsLock.lock()
        let byRegion = pool.waitByRegion
        if reset { pool.waitByRegion = [:] }
        pool.statsLock.unlock()
        let wakes = pool.wakes.load(ordering: .relaxed)
        let result = ParallelPoolStatistics(
            regions: Int(pool.regionsRun.load(ordering: .relaxed)),
            chunks: Int(pool.chunksRun.load(ordering: .relaxed)),
            chunksByWorkers: Int(pool.chunksByWorkers.load(ordering: .relaxed)),
            joinWaitSeconds: Double(pool.joinWaitNanoseconds.load(ordering: .relaxed)) / 1e9,
            meanWakeSeconds: wakes == 0 ? 0 : Double(pool.wakeNanoseconds.load(ordering: .relaxed)) / Double(wakes) / 1e9,
            byRegion: byRegion.values.map {
                .init(name: $0.0, regions: Int($0.1), joinWaitSeconds: Double($0.2) / 1e9, chunksByWorkers: Int($0.3))
            }.sorted { $0.joinWaitSeconds > $1.joinWaitSeconds })
        if reset {
            pool.regionsRun.store(0, ordering: .relaxed)
            pool.chunksRun.store(0, ordering: .relaxed)
            pool.chunksByWorkers.store(0, ordering: .relaxed)
            pool.joinWaitNanoseconds.store(0, ordering: .relaxed)
            pool.wakeNanoseconds.store(0, ordering: .relaxed)
            pool.wakes.store(0, ordering: .relaxed)
        }
        return result
    }

    private func generation(_ value: UInt64) -> UInt64 { value >> (Self.indexBits + Self.chunkBits) }

    private func startWorkers(_ count: Int) {
        while workers < count {
            workers += 1
            let thread = Thread { self.work() }  // a pool and its workers live as long as the process
            thread.name = "resnet-dist chunk worker \(workers)"
            thread.start()
        }
    }

    private func work() {
        var seen = generation(ticket.load(ordering: .acquiring))
        while true {
            let deadline = monotonicNanoseconds() &+ spinNanoseconds
            var spins = 0
            while generation(ticket.load(ordering: .acquiring)) == seen {
                spins += 1
                if spins & 63 == 0 {
                    if monotonicNanoseconds() >= deadline {
                        sleep(until: seen)
                        break
                    }
                    if spins & 4095 == 0 { sched_yield() }
                }
                rd_spin_pause()
            }
            seen = generation(ticket.load(ordering: .acquiring))
            if counts {
                wakeNanoseconds.wrappingAdd(monotonicNanoseconds() &- publishedAt.load(ordering: .relaxed), ordering: .relaxed)
                wakes.wrappingAdd(1, ordering: .relaxed)
            }
            runClaimedChunks()
        }
    }

    /// Waits on the condition until a job newer than `seen` is published.
    private func sleep(until seen: UInt64) {
        lock.lock()
        sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
        while generation(ticket.load(ordering: .sequentiallyConsistent)) == seen { lock.wait() }
        sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        lock.unlock()
    }

    private func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }
}
