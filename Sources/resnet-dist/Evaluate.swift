import ArgumentParser
import Distributed
import Foundation
import Kernels
import ResNet

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Test error of a trained model (a resnet-dist checkpoint or a PyTorch state dict in safetensors).")

    @Option(help: "The checkpoint (.safetensors).")
    var checkpoint: String

    @OptionGroup var dataOptions: DataOptions

    @Option(help: "Architecture of a bare state dict without resnet-dist metadata (e.g. resnet20).")
    var arch: String?

    @Option(help: "Shortcut option of a bare state dict.")
    var shortcut: ShortcutOption = .A

    @Option(name: .customLong("batch-size"), help: "Images per forward pass.")
    var batchSize = 500

    @Option(help: "Threads for the convolutions.")
    var threads = 1

    @Flag(help: "Print one JSON object: correct, total, accuracy, error, loss.")
    var json = false

    func run() throws {
        do {
            BLASThreads.set(1)
            let expected = try arch.map { try Architecture.parse($0, shortcut: shortcut) }
            let loaded = try Checkpoint.load(checkpoint, expected: expected)
            guard let dir = try dataOptions.directory() else {
                throw ValidationError("no CIFAR-10 found: give --data DIR (the binary files, unpacked)")
            }
            let test = try CIFAR10.loadTest(from: dir)
            let stored = loaded.normalization
            let requested = try dataOptions.requestedNormalization(train: dataOptions.normalization == nil && dataOptions.mean == nil
                                                                   ? nil : try CIFAR10.loadTraining(from: dir))
            guard let normalization = requested ?? stored else {
                throw ValidationError("\(checkpoint) has no stored normalisation: give --normalization per-pixel, or --mean and --std")
            }
            let network = Network(loaded.architecture, batchCapacity: max(1, batchSize), threads: threads)
            try loaded.apply(to: network, optimizer: false)
            let loader = BatchLoader(data: test, globalBatch: network.batchCapacity, seed: 0, augment: false, normalization: normalization)
            let order = (0..<Int32(test.count)).map { $0 }
            var loss = 0.0, correct = 0, start = 0
            while start < test.count {
                let end = min(start + network.batchCapacity, test.count)
                let n = loader.fill(epoch: 0, order: order, positions: start..<end, images: network.inputImages, labels: network.inputLabels)
                let r = network.evaluate(batch: n)
                loss += r.lossSum
                correct += r.correct
                start = end
            }
            let accuracy = Double(correct) / Double(test.count)
            if json {
                printJSON(["correct": correct, "total": test.count, "accuracy": accuracy, "error": 1 - accuracy,
                           "loss": loss / Double(test.count), "arch": loaded.architecture.description])
            } else {
                print("\(loaded.architecture): \(correct)/\(test.count) correct, test accuracy \(String(format: "%.2f", accuracy * 100))%, error \(String(format: "%.2f", (1 - accuracy) * 100))%, loss \(String(format: "%.4f", loss / Double(test.count)))")
            }
        } catch let e as ValidationError {
            throw e
        } catch {
            fail(error)
        }
    }
}
