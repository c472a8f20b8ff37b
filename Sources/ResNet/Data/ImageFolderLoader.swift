import Foundation
import Synchronization

/// An image folder's batches (a `BatchSource`): each image read and decoded when its batch is
/// filled, then cut into the paper's views (`ImageNetAugmentation`) and normalised.
public struct ImageFolderLoader: BatchSource {
    public enum Views: String, Sendable, CaseIterable {
        /// The paper's training augmentation: scale, crop, mirror, lighting.
        case training
        /// Testing: the centre 224 crop of the image resized to 256.
        case center
        /// Testing: the ten crops of the image resized to 256; their softmax outputs are averaged.
        case tenCrop = "ten-crop"
    }

    public let folder: ImageFolder
    public let globalBatch: Int
    public let seed: UInt64
    public let views: Views
    /// Replace an image that cannot be decoded with the next one that can (and count it), instead of
    /// stopping the run with the file's name.
    public let skipBadImages: Bool
    /// Images skipped so far by this loader and its copies.
    public let skipped = Counter()
    let scale: [Float], offset: [Float]

    public static let side = ImageNetAugmentation.crop

    public init(
        folder: ImageFolder, globalBatch: Int, seed: UInt64, views: Views, normalization: Normalization,
        skipBadImages: Bool = false
    ) {
        self.folder = folder
        self.globalBatch = globalBatch
        self.seed = seed
        self.views = views
        self.skipBadImages = skipBadImages
        (scale, offset) = normalization.affine(side: Self.side)
    }

    public var count: Int { folder.count }
    public var inputFloats: Int { 3 * Self.side * Self.side }
    public var viewsPerImage: Int { views == .tenCrop ? 10 : 1 }
    public var classNames: [String]? { folder.classes }

    public func fill(
        epoch: Int, order: [Int32], positions: Range<Int>,
        images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>
    ) throws -> Int {
        for (slot, position) in positions.enumerated() {
            try fill(epoch: epoch, index: Int(order[position]), position: position, into: images, labels: labels, slot: slot)
        }
        return positions.count
    }

    /// The views of one image (the one at `index` of the folder, visited at `position` of `epoch`)
    /// into inputs `slot * viewsPerImage ..<` of `images`. Safe to call from several threads for
    /// different slots.
    public func fill(
        epoch: Int, index: Int, position: Int, into images: UnsafeMutablePointer<Float>,
        labels: UnsafeMutablePointer<Int32>, slot: Int
    ) throws {
        let minShortSide =
            views == .training
            ? ImageNetAugmentation.trainingShortSide(seed: seed, epoch: epoch, position: position)
            : ImageNetAugmentation.testShortSide
        var index = index
        var image: DecodedImage
        var failures = 0
        while true {
            do {
                image = try DecodedImage(contentsOf: folder.files[index], minShortSide: minShortSide)
                break
            } catch {
                guard skipBadImages else { throw error }
                skipped.increment()
                failures += 1
                guard failures < folder.count else {
                    throw ResNetError(.data, "\(folder.root): no image in it can be decoded")
                }
                index = (index + 1) % folder.count
            }
        }
        let chosen: [ImageView]
        switch views {
        case .training:
            chosen = [
                ImageNetAugmentation.trainingView(
                    seed: seed, epoch: epoch, position: position, width: image.width, height: image.height)
            ]
        case .center: chosen = [ImageNetAugmentation.centerView(width: image.width, height: image.height)]
        case .tenCrop: chosen = ImageNetAugmentation.tenCropViews(width: image.width, height: image.height)
        }
        scale.withUnsafeBufferPointer { scale in
            offset.withUnsafeBufferPointer { offset in
                for (v, view) in chosen.enumerated() {
                    let input = slot * chosen.count + v
                    view.write(image, scale: scale.baseAddress!, offset: offset.baseAddress!, into: images + input * inputFloats)
                    labels[input] = folder.labels[index]
                }
            }
        }
    }
}

/// A count shared by threads (the images a loader skipped).
public final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    public init() {}
    public func increment() { count.add(1, ordering: .relaxed) }
    public var value: Int { count.load(ordering: .relaxed) }
}
