import ArgumentParser
import Foundation
import ResNet

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract:
            "Test error of a trained model (a resnet-dist checkpoint or a PyTorch state dict in safetensors) on the CIFAR-10 test set, or on an image folder's val/ (top-1 and top-5; --ten-crop for the paper's testing)."
    )

    @Option(help: "The checkpoint (.safetensors).")
    var checkpoint: String

    @OptionGroup var dataOptions: DataOptions

    @Option(
        help:
            "Architecture of a bare state dict without resnet-dist metadata (e.g. resnet20). (default: the checkpoint's metadata)"
    )
    var arch: String?

    @Option(help: "Shortcut option of a bare state dict. (default: A for the CIFAR networks, B for resnet18/34)")
    var shortcut: ShortcutOption?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Images per forward pass.")
    var batchSize = 500

    @Option(parsing: .unconditional, help: ArgumentHelp(ThreadCount.help))
    var threads: Int?

    @Option(help: "Convolution kernels: auto (Winograd where it applies) or im2col (GEMM everywhere).")
    var convolution: ConvolutionChoice = .auto

    @Option(
        name: .customLong("decode-threads"), parsing: .unconditional,
        help: "Threads that decode the next batches while the network runs the current one (0: in the network's thread).")
    var decodeThreads = 1

    enum ConvolutionChoice: String, ExpressibleByArgument, CaseIterable { case auto, im2col }

    @Flag(
        name: .customLong("ten-crop"),
        help: "Image folders: average the softmax over the ten 224 crops of the image resized to 256 (the paper's testing; default: the centre crop).")
    var tenCrop = false

    @Flag(help: "Print one JSON object: correct, total, accuracy, error, loss (and top5_error).")
    var json = false

    func validate() throws {
        try require(batchSize >= 1, "--batch-size must be at least 1, got \(batchSize)")
        try ThreadCount.validate(threads)
        try require(
            (0...ThreadCount.mostPerProcess).contains(decodeThreads),
            "--decode-threads must be in 0...\(ThreadCount.mostPerProcess), got \(decodeThreads)")
        try require(
            dataOptions.data != "generated",
            "eval needs the CIFAR-10 test set: --data generated has none worth measuring")
    }

    func run() throws {
        let expected = try arch.map { try Architecture.parse($0, shortcut: shortcut) }
        let loaded = try Checkpoint.load(checkpoint, expected: expected)
        try Network.requireMemory(for: loaded.architecture, images: batchSize, what: "--batch-size \(batchSize)")
        if let root = dataOptions.data, ImageFolder.isDataSet(root) {
            try evaluateFolder(root: root, loaded: loaded)
            return
        }
        guard !tenCrop else { throw ResNetError(.usage, "--ten-crop is for image folders (224x224 networks)") }
        guard !loaded.architecture.isImageNet else {
            // The CIFAR-10 reader gives 32x32 images; an ImageNet network takes 224x224.
            throw ResNetError(
                .configuration,
                "\(checkpoint) holds \(loaded.architecture.name), an ImageNet network (224x224 inputs): give --data an image folder (DIR/val/CLASS/*.JPEG), not CIFAR-10 (32x32)"
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
        let source = BatchLoader(data: test, globalBatch: batchSize, seed: 0, augment: false, normalization: normalization)
        try evaluate(loaded, on: source, classNames: nil)
    }

    /// An image folder data set's val/ (or a folder of class folders): the classes must be the model's.
    func evaluateFolder(root: String, loaded: Checkpoint.Loaded) throws {
        guard loaded.architecture.isImageNet else {
            throw ResNetError(
                .configuration,
                "\(checkpoint) holds \(loaded.architecture.name), a CIFAR network (32x32 inputs): an image folder's images are cut to 224x224"
            )
        }
        let val = try ImageFolder.scan((root as NSString).appendingPathComponent("val"))
        let stored = try loaded.classNames()
        if let stored, stored != val.classes {
            let differing = zip(stored, val.classes).first { $0 != $1 }.map { "'\($0.0)' against '\($0.1)'" } ?? "\(stored.count) against \(val.classes.count) classes"
            throw ResNetError(
                .data,
                "\(val.root): its classes are not the ones \(checkpoint) was trained on (\(differing)); labels would be wrong"
            )
        }
        guard stored != nil || val.classes.count == loaded.architecture.classes else {
            throw ResNetError(
                .data,
                "\(val.root): \(val.classes.count) classes, but \(checkpoint) has a \(loaded.architecture.classes)-way classifier")
        }
        guard !tenCrop || batchSize >= 10 else {
            throw ResNetError(.usage, "--ten-crop needs --batch-size of at least 10 (the crops of one image), got \(batchSize)")
        }
        guard let normalization = try loaded.normalization() else {
            throw ResNetError(.usage, "\(checkpoint) has no stored normalisation, which an image folder's views need")
        }
        let source = ImageFolderLoader(
            folder: val, globalBatch: batchSize, seed: 0, views: tenCrop ? .tenCrop : .center,
            normalization: normalization, skipBadImages: dataOptions.skipBadImages)
        try evaluate(loaded, on: source, classNames: val.classes)
    }

    func evaluate(_ loaded: Checkpoint.Loaded, on source: any BatchSource, classNames: [String]?) throws {
        let network = Network(
            loaded.architecture, batchCapacity: batchSize, threads: ThreadCount.choose(threads).count,
            convolution: convolution == .im2col ? .im2col : nil)
        try loaded.apply(to: network, optimizer: false)
        // On a terminal, the pass's progress (once a second), gone before the result is printed.
        let progress = ProgressLine(enabled: true, total: source.count)
        let result = try Evaluation.run(
            network, on: source, range: 0..<source.count, decodeThreads: decodeThreads, progress: progress.evaluation)!
        progress.finish()
        let correct = Int(result.correct)
        let topFive = classNames != nil
        if json {
            var object: [String: Any] = [
                "correct": correct, "total": source.count, "accuracy": 1 - result.error, "error": result.error,
                "loss": result.loss, "arch": loaded.architecture.description,
            ]
            if topFive {
                object["top5_error"] = result.top5Error
                object["views"] = source.viewsPerImage
            }
            printJSON(object)
        } else {
            var line =
                "\(loaded.architecture): \(correct)/\(source.count) correct, test accuracy \(String(format: "%.2f", (1 - result.error) * 100))%, error \(String(format: "%.2f", result.error * 100))%"
            if topFive { line += ", top-5 error \(String(format: "%.2f", result.top5Error * 100))%" }
            line += ", loss \(String(format: "%.4f", result.loss))"
            if topFive { line += source.viewsPerImage == 10 ? " (ten crops)" : " (centre crop)" }
            print(line)
        }
    }
}
