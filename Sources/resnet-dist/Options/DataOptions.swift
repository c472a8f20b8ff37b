import ArgumentParser
import Foundation
import Logging
import ResNet

/// Where the data is and how pixels are normalised.
struct DataOptions: ParsableArguments {
    @Option(
        help:
            "Directory with the CIFAR-10 binary files (data_batch_1..5.bin, test_batch.bin). Default: $RESNET_DIST_DATA, ./.data/cifar10, ./data/cifar10, ./cifar-10-batches-bin (where launch/get-cifar10.sh puts it), /tmp/cifar-10-batches-bin; without any, or with 'generated', a generated data set."
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

    enum NormalizationKind: String, ExpressibleByArgument, CaseIterable {
        case perPixel = "per-pixel"
        case perChannel = "per-channel"
    }

    func validate() throws {
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

    /// The CIFAR-10 directory to read: `--data` (which must hold the files), else the first default
    /// location that does, else nil.
    func directory() throws -> String? {
        if data == "generated" { return nil }
        if let data {
            guard CIFAR10.isPresent(in: data) else {
                // Load anyway to produce the precise per-file error.
                _ = try CIFAR10.loadTraining(from: data)
                _ = try CIFAR10.loadTest(from: data)
                return data
            }
            return data
        }
        return CIFAR10.defaultDirectory()
    }
}

extension BatchLoader.Padding: ExpressibleByArgument {}
