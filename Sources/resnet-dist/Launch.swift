import ArgumentParser
import Distributed
import Foundation
import ResNet

/// The one place a command picks its communicator: MPI under a launcher (mpirun, srun), a single
/// process otherwise. Errors inside `body` go through `ErrorPolicy` with it, so every rank ends
/// the same way.
func withCommunicator(_ body: (Communicator) throws -> Void) throws {
    let communicator: Communicator = MPICommunicator.launchedByMPI ? try MPICommunicator() : SingleProcessCommunicator()
    do {
        try refuseSlurmSingletons(communicator)
        try body(communicator)
    } catch {
        ErrorPolicy.exit(with: error, communicator: communicator)
    }
    communicator.finalize()
}

/// Under Slurm with several tasks, each task must be a rank of one MPI world; tasks started
/// without MPI wiring would each train alone into the same directory.
func refuseSlurmSingletons(
    _ communicator: Communicator, environment: [String: String] = ProcessInfo.processInfo.environment
) throws {
    guard let text = environment["SLURM_NTASKS"], let tasks = Int(text), tasks > 1, communicator.size == 1 else {
        return
    }
    throw ResNetError(
        .configuration,
        "SLURM_NTASKS=\(tasks) but this process's MPI world has 1 rank: start the ranks with 'srun --mpi=pmix' (or mpirun) so they form one job, or run with --ntasks=1"
    )
}
