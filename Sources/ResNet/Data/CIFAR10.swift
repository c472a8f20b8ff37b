import Foundation

/// Labelled 32x32 RGB images kept as bytes: `images` is [count, 3, 32, 32] (planes R, G, B,
/// each row-major), `labels` one byte 0-9 per image.
public struct LabeledImages: Sendable {
    public var images: [UInt8]
    public var labels: [UInt8]
    public static let imageBytes = 3 * 32 * 32
    public var count: Int { labels.count }

    public init(images: [UInt8], labels: [UInt8]) {
        precondition(images.count == labels.count * Self.imageBytes)
        self.images = images
        self.labels = labels
    }

    /// The images at `indices`, in that order.
    public func subset(_ indices: some Sequence<Int>) -> LabeledImages {
        var images: [UInt8] = []
        var labels: [UInt8] = []
        for i in indices {
            images.append(contentsOf: self.images[i * Self.imageBytes..<(i + 1) * Self.imageBytes])
            labels.append(self.labels[i])
        }
        return LabeledImages(images: images, labels: labels)
    }
}

/// The CIFAR-10 binary format: files of 3073-byte records, one label byte (0-9) then 1024 red,
/// 1024 green and 1024 blue bytes; `data_batch_1.bin` ... `data_batch_5.bin` (50,000 training
/// images) and `test_batch.bin` (10,000 test images).
public enum CIFAR10 {
    public static let recordBytes = 1 + LabeledImages.imageBytes
    public static let recordsPerFile = 10_000
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFiles = ["test_batch.bin"]
    public static let classes = 10

    /// Reads the training set (all five batches) from `directory`.
    public static func loadTraining(from directory: String) throws -> LabeledImages {
        try load(trainFiles.map { (directory as NSString).appendingPathComponent($0) })
    }

    /// Reads the test set from `directory`.
    public static func loadTest(from directory: String) throws -> LabeledImages {
        try load(testFiles.map { (directory as NSString).appendingPathComponent($0) })
    }

    /// True when `directory` holds all six files.
    public static func isPresent(in directory: String) -> Bool {
        (trainFiles + testFiles).allSatisfy {
            FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent($0))
        }
    }

    /// Reads and validates files in the binary format. Each file must be a whole number of records
    /// (10,000 for the standard files) and every label must be 0-9; the error names the file.
    public static func load(_ paths: [String]) throws -> LabeledImages {
        var images: [UInt8] = []
        var labels: [UInt8] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                if FileManager.default.fileExists(atPath: path + ".xz") {
                    throw ResNetError(
                        .data, "\(path): missing (found \(path).xz: unpack it with shared/data/cifar10/unpack.sh DIR)")
                }
                throw ResNetError(.data, "\(path): missing or unreadable CIFAR-10 file")
            }
            let name = (path as NSString).lastPathComponent
            let standard = trainFiles.contains(name) || testFiles.contains(name)
            if data.count == 0 || data.count % recordBytes != 0
                || (standard && data.count != recordsPerFile * recordBytes)
            {
                let expected =
                    standard
                    ? "\(recordsPerFile * recordBytes) bytes (\(recordsPerFile) records of \(recordBytes))"
                    : "a non-zero multiple of \(recordBytes) bytes"
                throw ResNetError(.data, "\(path): truncated or wrong size: \(data.count) bytes, expected \(expected)")
            }
            let records = data.count / recordBytes
            images.reserveCapacity(images.count + records * LabeledImages.imageBytes)
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                let bytes = raw.bindMemory(to: UInt8.self)
                for r in 0..<records {
                    let base = r * recordBytes
                    let label = bytes[base]
                    guard label < classes else {
                        throw ResNetError(.data, "\(path): record \(r) has label \(label), expected 0-9")
                    }
                    labels.append(label)
                    images.append(contentsOf: bytes[(base + 1)..<(base + recordBytes)])
                }
            }
        }
        return LabeledImages(images: images, labels: labels)
    }

    /// Directories searched when no `--data` is given: `$RESNET_DIST_DATA`, `./.data/cifar10`,
    /// `./data/cifar10`, `/tmp/cifar-10-batches-bin`.
    public static func defaultDirectory() -> String? {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["RESNET_DIST_DATA"] { candidates.append(env) }
        candidates += [".data/cifar10", "data/cifar10", "cifar-10-batches-bin", "/tmp/cifar-10-batches-bin"]
        return candidates.first { isPresent(in: $0) }
    }
}
