import ArgumentParser
import Foundation
import Logging
import ResNet

/// Where the data is and how pixels are normalised.
struct DataOptions: ParsableArguments {
    @Option(
        help:
            "Directory with the CIFAR-10 binary files (data_batch_1..5.bin, test_batch.bin), or an image folder data set (DIR/train/CLASS/*.JPEG and DIR/val/CLASS/*.JPEG, JPEG or PNG: ImageNet's layout). Default: $RESNET_DIST_DATA, ./.data/cifar10, ./data/cifar10, ./cifar-10-batches-bin (where launch/get-cifar10.sh puts it), /tmp/cifar-10-batches-bin; without any, or with 'generated', a generated data set."
    )
    var data: String?

    @Option(
        help:
            "Input normalisation: per-pixel (subtract the training set's mean image, the paper's) or per-channel (mean/std). (default: per-pixel for train, the checkpoint's own for eval)"
    )
    var normalization: NormalizationKind?

    @Option(
        parsing: .unconditional,
        help:
            "Per-channel means of pixel/255, comma-separated (implies per-channel), e.g. 0.4914,0.4822,0.4465. (default: none)"
    )
    var mean: String?

    @Option(
        parsing: .unconditional,
        help:
            "Per-channel standard deviations of pixel/255, comma-separated, e.g. 0.2470,0.2435,0.2616. (default: none)")
    var std: String?

    @Flag(
        name: .customLong("skip-bad-images"),
        help: "Image folders: replace a file that cannot be decoded by the next one that can, and count it (default: stop, naming the file).")
    var skipBadImages = false

    @Option(
        name: .customLong("mean-images"), parsing: .unconditional,
        help: "Image folders: the per-pixel mean is taken over this many training images, evenly spaced.")
    var meanImages = 10_000

    enum NormalizationKind: String, ExpressibleByArgument, CaseIterable {
        case perPixel = "per-pixel"
        case perChannel = "per-channel"
    }

    func validate() throws {
        try require(meanImages >= 1, "--mean-images must be at least 1, got \(meanImages)")
        let m = try mean.map { try Self.triple($0, "--mean") }
        let s = try std.map { try Self.triple($0, "--std") }
        if normalization == .perPixel {
            try require(m == nil && s == nil, "--mean/--std go with --normalization per-channel")
        }
        try require((m == nil) == (s == nil), "give both --mean and --std")
        try require(m?.allSatisfy(\.isFinite) ?? true, "--mean takes finite numbers, got '\(mean ?? "")'")
        try require(
            s?.allSatisfy { $0.isFinite && $0 > 0 } ?? true, "--std takes finite numbers > 0, got '\(std ?? "")'")
    }

    /// The normalisation the flags ask for, computed from `train` where not given explicitly.
    /// Nil when no flag was given (the caller picks a default).
    func requestedNormalization(train: LabeledImages?) throws -> Normalization? {
        let m = try mean.map { try Self.triple($0, "--mean") }
        let s = try std.map { try Self.triple($0, "--std") }
        if normalization == .perPixel {
            guard m == nil, s == nil else { throw ValidationError("--mean/--std go with --normalization per-channel") }
            guard let train else { throw ValidationError("per-pixel normalisation needs the training set (--data)") }
            return Normalization.perPixelMean(of: train)
        }
        if normalization == .perChannel || m != nil || s != nil {
            if let m, let s { return .perChannel(mean: m, std: s) }
            guard m == nil, s == nil else { throw ValidationError("give both --mean and --std") }
            guard let train else {
                throw ValidationError("per-channel statistics need the training set, or --mean and --std")
            }
            return Normalization.perChannel(of: train)
        }
        return nil
    }

    static func triple(_ text: String, _ flag: String) throws -> [Float] {
        let values = text.split(separator: ",", omittingEmptySubsequences: false)
            .compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard values.count == 3 else {
            throw ValidationError("\(flag) takes three comma-separated numbers, got '\(text)'")
        }
        return values
    }

    /// Where the data are, by what the folder holds.
    enum Location {
        case cifar(String)
        case imageFolder(String)
        case generated
    }

    /// `--data` (an image folder data set or the CIFAR-10 files), else the first default CIFAR-10
    /// location, else the generated set.
    func location() throws -> Location {
        if let data, data != "generated", ImageFolder.isDataSet(data) { return .imageFolder(data) }
        return try directory().map { .cifar($0) } ?? .generated
    }

    /// The image folder data set at `root`: `train/` and `val/`, whose classes must agree.
    func imageFolders(_ root: String) throws -> (train: ImageFolder, val: ImageFolder) {
        let train = try ImageFolder.scan((root as NSString).appendingPathComponent("train"))
        let val = try ImageFolder.scan((root as NSString).appendingPathComponent("val"))
        guard val.classes == train.classes else {
            let missing = Set(train.classes).symmetricDifference(val.classes).sorted().prefix(3)
            throw ResNetError(
                .data,
                "\(val.root): its \(val.classes.count) class folders differ from train/'s \(train.classes.count) (e.g. \(missing.joined(separator: ", ")))"
            )
        }
        return (train, val)
    }

    /// The normalisation for an image folder: --mean/--std, else the per-pixel mean of its training images.
    func folderNormalization(train: ImageFolder, threads: Int) throws -> Normalization {
        guard normalization != .perChannel || (mean != nil && std != nil) else {
            throw ResNetError(.usage, "--normalization per-channel on an image folder needs --mean and --std")
        }
        if let mean, let std { return .perChannel(mean: try Self.triple(mean, "--mean"), std: try Self.triple(std, "--std")) }
        return try Normalization.perPixelMean(of: train, sample: meanImages, threads: threads)
    }

    /// The CIFAR-10 directory to read: `--data` (which must hold the files), else the first default
    /// location that does, else nil.
    func directory() throws -> String? {
        if data == "generated" { return nil }
        if let data {
            guard CIFAR10.isPresent(in: data) else {
                if let neither = Self.neitherDataSet(data) { throw ResNetError(.data, neither) }
                // Load anyway to produce the precise per-file error.
                _ = try CIFAR10.loadTraining(from: data)
                _ = try CIFAR10.loadTest(from: data)
                return data
            }
            return data
        }
        return CIFAR10.defaultDirectory()
    }

    /// The line for a `--data` directory that holds no CIFAR-10 file (nor its .xz) and no
    /// train/ + val/ (say, a folder of class folders): nil where the per-file error says more.
    static func neitherDataSet(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return nil
        }
        let cifarFiles = (CIFAR10.trainFiles + CIFAR10.testFiles).flatMap { [$0, $0 + ".xz"] }
        guard !cifarFiles.contains(where: { FileManager.default.fileExists(atPath: "\(path)/\($0)") }) else {
            return nil
        }
        return
            "--data \(path): neither CIFAR-10 (data_batch_1..5.bin and test_batch.bin) nor an image folder data set (train/CLASS/* and val/CLASS/*)"
    }
}

extension BatchLoader.Padding: ExpressibleByArgument {}
