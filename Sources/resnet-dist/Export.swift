import ArgumentParser
import Foundation
import ResNet

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write a checkpoint's model alone (weights, BN statistics, normalisation; no momentum, no run record): the file pretrained/ ships and PyTorch loads."
    )

    @Option(help: "The training checkpoint (.safetensors).")
    var checkpoint: String

    @Option(name: .shortAndLong, help: "The model file to write (refused if it exists).")
    var output: String

    func run() throws {
        let loaded = try Checkpoint.load(checkpoint)
        guard let normalization = try loaded.normalization() else {
            throw ResNetError(.usage, "\(checkpoint) has no stored normalisation to ship with the model")
        }
        guard !FileManager.default.fileExists(atPath: output) else {
            throw ResNetError(.usage, "--output \(output) exists; remove it or choose another name")
        }
        let network = Network(loaded.architecture, batchCapacity: 1)
        try loaded.apply(to: network, optimizer: false)
        try Checkpoint.save(network, normalization: normalization, run: nil, to: output)
        print("wrote \(output): \(loaded.architecture), \(network.parameterCount) parameters")
    }
}
