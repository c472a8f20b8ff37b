import Foundation

/// The paper's ImageNet views (section 3.4). Training: the shorter side resized to a random length
/// in [256, 480], a random 224x224 crop or its mirror, and AlexNet's PCA colour augmentation; every
/// draw from (seed, epoch, position) alone, so a resumed run sees the same views. Testing: the
/// shorter side resized to 256, then the centre 224 crop, or the ten crops (four corners and the
/// centre, and their mirrors).
public enum ImageNetAugmentation {
    public static let trainingShortSides = 256...480
    public static let testShortSide = 256
    public static let crop = 224
    /// Standard deviation of the lighting coefficients (AlexNet's 0.1).
    public static let lightingDeviation: Float = 0.1
    /// Eigenvalues and eigenvectors (columns) of ImageNet's RGB covariance, pixels scaled to [0, 1]:
    /// the values fb.resnet.torch and most ResNet reproductions use.
    public static let eigenvalues: [Float] = [0.2175, 0.0188, 0.0045]
    public static let eigenvectors: [[Float]] = [
        [-0.5675, 0.7192, 0.4009],
        [-0.5808, -0.0045, -0.8140],
        [-0.5836, -0.6948, 0.4203],
    ]

    /// The shorter side drawn for one training image: known before decoding, so the decoder can scale.
    public static func trainingShortSide(seed: UInt64, epoch: Int, position: Int) -> Int {
        var rng = generator(seed: seed, epoch: epoch, position: position)
        return trainingShortSides.lowerBound + Int(rng.next() % UInt64(trainingShortSides.count))
    }

    /// The training view of a `width` x `height` decoded image at (seed, epoch, position).
    public static func trainingView(seed: UInt64, epoch: Int, position: Int, width: Int, height: Int) -> ImageView {
        var rng = generator(seed: seed, epoch: epoch, position: position)
        let side = trainingShortSides.lowerBound + Int(rng.next() % UInt64(trainingShortSides.count))
        let (w, h) = ImageView.resized(width: width, height: height, shortSide: side)
        let x = Int(rng.next() % UInt64(w - crop + 1))
        let y = Int(rng.next() % UInt64(h - crop + 1))
        let flip = rng.next() & 1 == 1
        let alpha = (0..<3).map { _ in rng.nextNormal() * lightingDeviation }
        return ImageView(shortSide: side, x: x, y: y, size: crop, flip: flip, lighting: lighting(alpha))
    }

    /// The colour shift, in pixel units (0-255), for lighting coefficients `alpha`:
    /// `sum_j eigenvector_j * alpha_j * eigenvalue_j`.
    public static func lighting(_ alpha: [Float]) -> [Float] {
        (0..<3).map { c in 255 * (0..<3).reduce(Float(0)) { $0 + eigenvectors[c][$1] * alpha[$1] * eigenvalues[$1] } }
    }

    /// The single centre crop of testing.
    public static func centerView(width: Int, height: Int) -> ImageView {
        let (w, h) = ImageView.resized(width: width, height: height, shortSide: testShortSide)
        return ImageView(shortSide: testShortSide, x: (w - crop) / 2, y: (h - crop) / 2, size: crop, flip: false)
    }

    /// The ten crops of testing: corners (top left, top right, bottom left, bottom right), centre,
    /// then the same five mirrored.
    public static func tenCropViews(width: Int, height: Int) -> [ImageView] {
        let (w, h) = ImageView.resized(width: width, height: height, shortSide: testShortSide)
        let corners = [(0, 0), (w - crop, 0), (0, h - crop), (w - crop, h - crop), ((w - crop) / 2, (h - crop) / 2)]
        return [false, true].flatMap { flip in
            corners.map { ImageView(shortSide: testShortSide, x: $0.0, y: $0.1, size: crop, flip: flip) }
        }
    }

    static func generator(seed: UInt64, epoch: Int, position: Int) -> SplitMix64 {
        SplitMix64(seed: seed, stream: RandomStream.augmentation.rawValue, UInt64(epoch), UInt64(position))
    }
}
