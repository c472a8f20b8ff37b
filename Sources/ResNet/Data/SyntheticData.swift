/// A small learnable data set made on the spot, for runs without CIFAR-10 on disk: each of the
/// ten classes is a fixed random colour pattern at low resolution, upsampled to 32x32, plus noise.
public enum SyntheticData {
    public static func make(count: Int, seed: UInt64, classes: Int = 10) -> LabeledImages {
        var prototypes: [[Float]] = []
        var rng = SplitMix64(seed: 0xC1FA_5EED, stream: RandomStream.syntheticData.rawValue)
        for _ in 0..<classes {
            // A 3x4x4 pattern of intensities.
            prototypes.append((0..<48).map { _ in rng.nextUnitFloat() })
        }
        var noise = SplitMix64(seed: seed, stream: RandomStream.syntheticData.rawValue, UInt64(count))
        var images = [UInt8](repeating: 0, count: count * LabeledImages.imageBytes)
        var labels = [UInt8](repeating: 0, count: count)
        for n in 0..<count {
            let label = Int(noise.next() % UInt64(classes))
            labels[n] = UInt8(label)
            let p = prototypes[label]
            for c in 0..<3 {
                for y in 0..<32 {
                    for x in 0..<32 {
                        let v = p[c * 16 + (y / 8) * 4 + x / 8] * 200 + noise.nextUnitFloat() * 55
                        images[n * LabeledImages.imageBytes + c * 1024 + y * 32 + x] = UInt8(min(255, max(0, v)))
                    }
                }
            }
        }
        return LabeledImages(images: images, labels: labels)
    }
}
