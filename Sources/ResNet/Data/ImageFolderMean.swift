import Foundation

extension Normalization {
    /// The paper's per-pixel mean for an image folder: the mean of the test views (the shorter side
    /// resized to 256, the centre 224 crop) of at most `sample` training images, evenly spaced through
    /// the sorted list (so every rank computes the same), decoded on `threads` threads.
    public static func perPixelMean(of folder: ImageFolder, sample: Int = 10_000, threads: Int = 1) throws -> Normalization {
        let count = min(sample, folder.count)
        let side = ImageFolderLoader.side
        let floats = 3 * side * side
        // Raw pixels: scale 1, offset 0.
        let raw = Normalization.perChannel(mean: [0, 0, 0], std: [1.0 / 255, 1.0 / 255, 1.0 / 255])
        let loader = ImageFolderLoader(folder: folder, globalBatch: 1, seed: 0, views: .center, normalization: raw)
        let parts = max(1, min(threads, count))
        let sums = Locked<[[Double]]>(Array(repeating: [], count: parts))
        let failure = Locked<Error?>(nil)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            var sum = [Double](repeating: 0, count: floats)
            let image = UnsafeMutablePointer<Float>.allocate(capacity: floats)
            let label = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
            defer {
                image.deallocate()
                label.deallocate()
            }
            for i in stride(from: part, to: count, by: parts) {
                let index = i * folder.count / count
                do {
                    try loader.fill(epoch: 0, index: index, position: index, into: image, labels: label, slot: 0)
                } catch {
                    failure.update { $0 = $0 ?? error }
                    return
                }
                for k in 0..<floats { sum[k] += Double(image[k]) }
            }
            sums.update { $0[part] = sum }
        }
        if let error = failure.value { throw error }
        var total = [Double](repeating: 0, count: floats)
        for part in sums.value { for k in 0..<floats { total[k] += part[k] } }
        return .perPixelMean(mean: total.map { Float($0 / Double(count) / 255) })
    }
}
