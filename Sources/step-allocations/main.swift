// Counts heap allocations of steady-state training steps: run it with the malloc interposer
// preloaded, e.g.
//   LD_PRELOAD=.build/release/libMallocInterposerSwift.so .build/release/step-allocations resnet20 8 3
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

BLASThreads.set(1) // as the trainer runs it
let network = Network(architecture, batchCapacity: batch)
network.initialize(seed: 1)
var rng = SplitMix64(seed: 2)
for i in 0..<(batch * network.imageFloats) { network.inputImages[i] = rng.nextNormal() }
for i in 0..<batch { network.inputLabels[i] = Int32(rng.next() % 10) }
let communicator: Communicator = SingleProcessCommunicator()
let sgd = SGD()

/// One training step as the trainer runs it: forward, loss, backward, all-reduce, update.
func step() {
    network.trainStep(batch: batch, gradScale: 1 / Float(batch))
    try! communicator.allReduceSum(network.store.gradientBuffer)
    sgd.step(network.store, learningRate: 0.01)
}

step() // warm-up: anything allocated lazily happens here
MallocInterposerSwift.initialize()
MallocInterposerSwift.hook()
let probe = malloc(64)
MallocInterposerSwift.unhook()
free(probe)
let active = MallocInterposerSwift.getStatistics().mallocCount >= 1

MallocInterposerSwift.initialize()
MallocInterposerSwift.hook()
for _ in 0..<steps { step() }
MallocInterposerSwift.unhook()
let stats = MallocInterposerSwift.getStatistics()
print("{\"interposer_active\":\(active),\"arch\":\"\(architecture.name)\",\"batch\":\(batch),\"steps\":\(steps),"
    + "\"allocations\":\(stats.mallocCount),\"frees\":\(stats.freeCount),\"allocated_bytes\":\(stats.mallocBytesCount)}")
