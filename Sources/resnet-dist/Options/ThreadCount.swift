import CPUFeatures
import Kernels
import Foundation

/// `--threads`: as given, or by default the cores this rank may use: its CPU affinity mask, shared
/// among the ranks on this node when they were not bound to cores of their own (mpirun's
/// OMPI_COMM_WORLD_LOCAL_SIZE) and among in-process replicas.
enum ThreadCount {
    static let help =
        "Threads per rank for the convolutions. (default: the cores this rank may use: its affinity mask, divided among the node's ranks unless they are bound to cores of their own)"

    /// The count, and how it was chosen (for the start-up line).
    static func resolve(_ requested: Int?, replicasInProcess: Int = 1) -> (count: Int, reason: String) {
        if let requested { return (requested, "--threads \(requested)") }
        let allowed = affinityCores()
        let sharers = sharersOfMask(replicasInProcess: replicasInProcess)
        let count = max(1, allowed / sharers)
        if sharers == 1 {
            return (count, "default: the \(allowed) core\(allowed == 1 ? "" : "s") in this rank's affinity mask")
        }
        return (
            count,
            "default: \(allowed) core\(allowed == 1 ? "" : "s") in the affinity mask shared by \(sharers) ranks on this node"
        )
    }

    /// Sets the thread pool's spin for `threads` threads per rank: `WorkerSpin.ownCoresMicroseconds`
    /// when the node's ranks x threads fit in the cores this rank may use (bound ranks: its own
    /// mask), else 0. Returns the spin in microseconds.
    @discardableResult
    static func configureSpin(threads: Int, replicasInProcess: Int = 1) -> UInt64 {
        let ownCores = threads > 1 && threads * sharersOfMask(replicasInProcess: replicasInProcess) <= affinityCores()
        return WorkerSpin.set(microseconds: ownCores ? WorkerSpin.ownCoresMicroseconds : 0)
    }

    /// How many ranks (and in-process replicas) share this rank's affinity mask: the node's ranks
    /// when they were not bound (the mask is every online CPU), else 1.
    static func sharersOfMask(replicasInProcess: Int) -> Int {
        let ranksHere = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        let bound = affinityCores() < ProcessInfo.processInfo.activeProcessorCount
        return max(1, replicasInProcess) * max(1, bound ? 1 : ranksHere)
    }

    /// The CPUs in this process's affinity mask, or all online CPUs if it cannot be read.
    static func affinityCores() -> Int {
        let count = Int(rd_affinity_cpus())
        return count > 0 ? count : ProcessInfo.processInfo.activeProcessorCount
    }
}
