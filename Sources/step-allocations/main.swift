// Counts heap allocations of steady-state training steps (`DataParallelStep`, the trainer's own),
// with the malloc interposer preloaded, e.g.
//   LD_PRELOAD=.build/release/libMallocInterposerSwift.so .build/release/step-allocations resnet20 8 3 [--threads 2]
// Under mpirun every rank runs the step with the MPI communicator (gradient buckets, the
// loss all-reduce, the batch-norm statistics); rank 0 prints its counts.
// Prints one JSON object: allocations and frees per step, and whether the interposer counted at
// all (a deliberate allocation between hook and unhook must be seen).
import Distributed
import Foundation
import Kernels
import MallocInterposerSwift
import ResNet

let arguments = CommandLine.arguments
let architecture = try Architecture.parse(arguments.count > 1 ? arguments[1] : "resnet20")
let batch = arguments.count > 2 ? Int(arguments[2]) ?? 8 : 8
let steps = arguments.count > 3 ? Int(arguments[3]) ?? 3 : 3
let syncBatchNorm = arguments.contains("--sync-bn")
let threads = arguments.firstIndex(of: "--threads").flatMap { Int(arguments[$0 + 1]) } ?? 1

let communicator: Communicator = MPICommunicator.launchedByMPI ? try MPICommunicator() : SingleProcessCommunicator()
let network = Network(architecture, batchCapacity: batch, threads: threads)
network.initialize(seed: 1)
var rng = SplitMix64(seed: 2 + UInt64(communicator.rank))
for i in 0..<(batch * network.imageFloats) { network.inputImages[i] = rng.nextNormal() }
for i in 0..<batch { network.inputLabels[i] = Int32(rng.next() % 10) }
let step = DataParallelStep(
    network: network, communicator: communicator, optimizer: SGD(), syncBatchNorm: syncBatchNorm)
let globalBatch = batch * communicator.size

_ = try step.run(images: batch, globalImages: globalBatch, learningRate: 0.01)  // anything lazy happens here
MallocInterposerSwift.initialize()
MallocInterposerSwift.hook()
let probe = malloc(64)
MallocInterposerSwift.unhook()
free(probe)
let active = MallocInterposerSwift.getStatistics().mallocCount >= 1

try communicator.barrier()
MallocInterposerSwift.initialize()
MallocInterposerSwift.hook()
for _ in 0..<steps { _ = try step.run(images: batch, globalImages: globalBatch, learningRate: 0.01) }
MallocInterposerSwift.unhook()
let stats = MallocInterposerSwift.getStatistics()
if communicator.isCoordinator {
    print(
        "{\"interposer_active\":\(active),\"arch\":\"\(architecture.name)\",\"batch\":\(batch),\"steps\":\(steps),"
            + "\"ranks\":\(communicator.size),\"threads\":\(threads),\"sync_bn\":\(syncBatchNorm),"
            + "\"allocations\":\(stats.mallocCount),\"frees\":\(stats.freeCount),\"allocated_bytes\":\(stats.mallocBytesCount)}"
    )
}
communicator.finalize()
