import CPUFeatures
import Foundation
import Kernels

/// `--threads`: as given, or by default the cores this rank may use: its CPU affinity mask, shared
/// among the ranks on this node when they were not bound to cores of their own (mpirun's
/// OMPI_COMM_WORLD_LOCAL_SIZE) and among in-process replicas. A Slurm task that Slurm did not bind
/// (TaskPlugin=task/none, or srun --cpu-bind=none) sees every core in its mask: it takes the
/// SLURM_CPUS_PER_TASK it was given instead, so the node's tasks do not each take the whole node.
enum ThreadCount {
    static let help =
        "Threads per rank for the convolutions, at most 1,024 a process (times --replicas). (default: the cores this rank may use: its affinity mask, divided among the node's ranks unless they are bound to cores of their own; SLURM_CPUS_PER_TASK for a Slurm task that is not bound)"

    /// How long the workers of a rank whose threads have cores of their own spin for the next
    /// parallel region before they sleep. ResNet-110 at 4 images a rank, 2 threads against 1 on a
    /// quiet 2-core machine: 1.67-1.71x sleeping at once, 1.76-1.78x spinning 30-300 us (docs/RESULTS.md).
    static let spinMicrosecondsOnOwnCores = 100

    /// The most threads one process may ask for (`--threads` times `--replicas`). Each thread
    /// takes a stack and a convolution workspace (about 1.3 MB for ResNet-20 at 128 images), so
    /// `--threads 100000` asked for 131 GB and aborted; no machine has cores for more than this.
    static let mostPerProcess = 1024

    /// Refuses a `--threads` (times the in-process `--replicas`) below 1 or above `mostPerProcess`.
    static func validate(_ requested: Int?, replicas: Int = 1) throws {
        guard let requested else { return }
        try require(requested >= 1, "--threads must be at least 1, got \(requested)")
        let replicasNote = replicas > 1 ? " (times --replicas \(replicas))" : ""
        try require(
            requested <= mostPerProcess / max(1, replicas),
            "--threads \(requested)\(replicasNote) is more than one process runs (at most \(mostPerProcess))")
    }

    /// Resolves the count (`resolve`) and lets the pool's workers spin only when the threads have
    /// cores of their own: spinning on a core another rank needs costs both. The reason says which.
    static func choose(_ requested: Int?, replicasInProcess: Int = 1) -> (count: Int, reason: String) {
        let choice = resolve(requested, replicasInProcess: replicasInProcess)
        setWorkerSpin(microseconds: choice.coresOfTheirOwn ? spinMicrosecondsOnOwnCores : 0)
        guard choice.count > 1 else { return (choice.count, choice.reason) }
        let spin = workerSpinMicroseconds()
        let workers =
            spin > 0
            ? "workers spin \(spin) us for the next region"
            : choice.coresOfTheirOwn ? "workers sleep between regions" : "workers sleep between regions: cores shared with other ranks"
        return (choice.count, "\(choice.reason); \(workers)")
    }

    /// The count, how it was chosen (for the start-up line), and whether the node has a core for
    /// every thread of its ranks (count x ranks sharing the cores <= the cores).
    static func resolve(_ requested: Int?, replicasInProcess: Int = 1) -> (count: Int, reason: String, coresOfTheirOwn: Bool) {
        let share = coreShare(replicasInProcess: max(1, replicasInProcess))
        let count = requested ?? max(1, share.cores / share.sharers)
        return (count, requested.map { "--threads \($0)" } ?? share.reason, count * share.sharers <= share.cores)
    }

    /// The cores this rank's threads may use, how many ranks and replicas share them, and why.
    private static func coreShare(replicasInProcess replicas: Int) -> (cores: Int, sharers: Int, reason: String) {
        let allowed = affinityCores()
        let online = ProcessInfo.processInfo.activeProcessorCount
        let environment = ProcessInfo.processInfo.environment
        if allowed >= online, let slurmCPUs = environment["SLURM_CPUS_PER_TASK"].flatMap({ Int($0) }), slurmCPUs >= 1 {
            return (min(allowed, slurmCPUs), replicas, "default: SLURM_CPUS_PER_TASK=\(slurmCPUs), this task not bound to cores")
        }
        let ranksHere = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        let sharers = replicas * max(1, allowed < online ? 1 : ranksHere)
        let cores = "\(allowed) core\(allowed == 1 ? "" : "s")"
        if sharers == 1 { return (allowed, 1, "default: the \(cores) in this rank's affinity mask") }
        return (allowed, sharers, "default: \(cores) in the affinity mask shared by \(sharers) ranks on this node")
    }

    /// The CPUs in this process's affinity mask, or all online CPUs if it cannot be read.
    static func affinityCores() -> Int {
        let count = Int(rd_affinity_cpus())
        return count > 0 ? count : ProcessInfo.processInfo.activeProcessorCount
    }
}
