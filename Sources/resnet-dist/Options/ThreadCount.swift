import CPUFeatures
import Foundation

/// `--threads`: as given, or by default the cores this rank may use: its CPU affinity mask, shared
/// among the ranks on this node when they were not bound to cores of their own (mpirun's
/// OMPI_COMM_WORLD_LOCAL_SIZE) and among in-process replicas. A Slurm task that Slurm did not bind
/// (TaskPlugin=task/none, or srun --cpu-bind=none) sees every core in its mask: it takes the
/// SLURM_CPUS_PER_TASK it was given instead, so the node's tasks do not each take the whole node.
enum ThreadCount {
    static let help =
        "Threads per rank for the convolutions. (default: the cores this rank may use: its affinity mask, divided among the node's ranks unless they are bound to cores of their own; SLURM_CPUS_PER_TASK for a Slurm task that is not bound)"

    /// The count, and how it was chosen (for the start-up line).
    static func resolve(_ requested: Int?, replicasInProcess: Int = 1) -> (count: Int, reason: String) {
        if let requested { return (requested, "--threads \(requested)") }
        let allowed = affinityCores()
        let online = ProcessInfo.processInfo.activeProcessorCount
        let environment = ProcessInfo.processInfo.environment
        if allowed >= online, let slurmCPUs = environment["SLURM_CPUS_PER_TASK"].flatMap({ Int($0) }), slurmCPUs >= 1 {
            let count = max(1, min(allowed, slurmCPUs) / max(1, replicasInProcess))
            return (count, "default: SLURM_CPUS_PER_TASK=\(slurmCPUs), this task not bound to cores")
        }
        let ranksHere = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        let sharers = max(1, replicasInProcess) * max(1, allowed < online ? 1 : ranksHere)
        let count = max(1, allowed / sharers)
        if sharers == 1 {
            return (count, "default: the \(allowed) core\(allowed == 1 ? "" : "s") in this rank's affinity mask")
        }
        return (
            count,
            "default: \(allowed) core\(allowed == 1 ? "" : "s") in the affinity mask shared by \(sharers) ranks on this node"
        )
    }

    /// The CPUs in this process's affinity mask, or all online CPUs if it cannot be read.
    static func affinityCores() -> Int {
        let count = Int(rd_affinity_cpus())
        return count > 0 ? count : ProcessInfo.processInfo.activeProcessorCount
    }
}
