import Foundation
import ResNet

/// `bench --checkpoint-io`: how long a training checkpoint of the network takes to save (with
/// momentum and the run record, as the trainer writes it, fsync included) and to load into a
/// network, medians over `repeats`, in a temporary directory removed afterwards.
struct CheckpointIOTiming {
    let saveSeconds: Double, loadSeconds: Double, bytes: Int

    init(_ architecture: Architecture, repeats: Int) throws {
        let network = Network(architecture, batchCapacity: 1)
        network.initialize(seed: 1)
        let directory = NSTemporaryDirectory() + "resnet-dist-checkpoint-io-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/checkpoint.safetensors"
        let record = CheckpointMetadata(
            iteration: 1, seed: 1, warmupDone: true, warmupWindowErrorSum: 0, warmupWindowSteps: 0, globalBatch: 128,
            worldSize: 1, batchesPerEpoch: 391, syncBatchNorm: false, learningRate: 0.1, schedule: "{}", optimizer: nil)
        var saves: [Double] = []
        var loads: [Double] = []
        for _ in 0..<repeats {
            let t0 = monotonicSeconds()
            try Checkpoint.save(network, normalization: .pytorchCIFAR10, run: record, to: path)
            let t1 = monotonicSeconds()
            try Checkpoint.load(path, expected: architecture).apply(to: network, optimizer: true)
            let t2 = monotonicSeconds()
            saves.append(t1 - t0)
            loads.append(t2 - t1)
        }
        saveSeconds = median(saves)
        loadSeconds = median(loads)
        bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }
}
