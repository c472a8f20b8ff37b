import ArgumentParser
import Foundation
import ResNet

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract:
            "Test error of a trained model (a resnet-dist checkpoint or a PyTorch state dict in safetensors) on the CIFAR-10 test set."
    )

    @Option(help: "The checkpoint (.safetensors).")
    var checkpoint: String

    @OptionGroup var dataOptions: DataOptions

    @Option(
        help:
            "Architecture of a bare state dict without resnet-dist metadata (e.g. resnet20). (default: the checkpoint's metadata)"
    )
    var arch: String?

    @Option(help: "Shortcut option of a bare state dict.")
    var shortcut: ShortcutOption = .A

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Images per forward pass.")
    var batchSize = 500

    @Option(parsing: .unconditional, help: ArgumentHelp(ThreadCount.help))
    var threads: Int?

    @Option(help: "Convolution kernels: auto (Winograd where it applies) or im2col (GEMM everywhere).")
    var convolution: ConvolutionChoice = .auto

    enum ConvolutionChoice: String, ExpressibleByArgument, CaseIterable { case auto, im2col }

    @Flag(help: "Print one JSON object: correct, total, accuracy, error, loss.")
    var json = false

    func validate() throws {
        try require(batchSize >= 1, "--batch-size must be at least 1, got \(batchSize)")
        try require((threads ?? 1) >= 1, "--threads must be at least 1, got \(threads ?? 1)")
        try require(
            dataOptions.data != "generated",
            "eval needs the CIFAR-10 test set: --data generated has none worth measuring")
    }

    func run() throws {
        let expected = try arch.map { try Architecture.parse($0, shortcut: shortcut) }
        let loaded = try Checkpoint.load(checkpoint, expected: expected)
        guard !loaded.architecture.isImageNet else {
            // The CIFAR-10 reader gives 32x32 images; an ImageNet network takes 224x224.
            throw ResNetError(
                .configuration,
                "\(checkpoint) holds \(loaded.architecture.name), an ImageNet network (224x224 inputs), and eval reads only CIFAR-10 (32x32): there is no ImageNet reader yet"
            )
        }
        guard let directory = try dataOptions.directory() else {
            throw ResNetError(
                .usage,
                "no CIFAR-10 found: give --data DIR (the binary files, unpacked; launch/get-cifar10.sh downloads them)"
            )
        }
        let test = try CIFAR10.loadTest(from: directory)
        let normalization: Normalization
        do {
            let wantsTraining = dataOptions.normalization != nil || dataOptions.mean != nil
            let requested = try dataOptions.requestedNormalization(
                train: wantsTraining ? try CIFAR10.loadTraining(from: directory) : nil)
            guard let chosen = try requested ?? loaded.normalization() else {
                throw ResNetError(
                    .usage,
                    "\(checkpoint) has no stored normalisation: give --normalization per-pixel, or --mean and --std")
            }
            normalization = chosen
        } catch let error as ValidationError {
            throw ResNetError(.usage, error.message)
        }
        let network = Network(
            loaded.architecture, batchCapacity: batchSize, threads: ThreadCount.resolve(threads).count,
            convolution: convolution == .im2col ? .im2col : nil)
        try loaded.apply(to: network, optimizer: false)
        // On a terminal, the pass's progress (once a second), gone before the result is printed.
        let progress = ProgressLine(enabled: true, total: test.count)
        let result = try Evaluation.run(
            network, on: test, range: 0..<test.count, normalization: normalization, progress: progress.evaluation)!
        progress.finish()
        let correct = Int(result.correct)
        if json {
            printJSON([
                "correct": correct, "total": test.count, "accuracy": 1 - result.error, "error": result.error,
                "loss": result.loss, "arch": loaded.architecture.description,
            ])
        } else {
            print(
                "\(loaded.architecture): \(correct)/\(test.count) correct, test accuracy \(String(format: "%.2f", (1 - result.error) * 100))%, error \(String(format: "%.2f", result.error * 100))%, loss \(String(format: "%.4f", result.loss))"
            )
        }
    }
}
