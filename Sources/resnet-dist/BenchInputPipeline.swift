import Foundation
import ResNet

/// How fast the input pipeline makes training batches from an image folder: batches of the paper's
/// training views loaded one after another (what the step would take), timed after the first.
struct InputPipelineTiming {
    let images: Int
    let seconds: Double

    init(folder: ImageFolder, batch: Int, threads: Int, images wanted: Int) throws {
        // Raw pixels (scale 1, offset 0): normalising costs the same whatever the constants.
        let raw = Normalization.perChannel(mean: [0, 0, 0], std: [1.0 / 255, 1.0 / 255, 1.0 / 255])
        let source = ImageFolderLoader(folder: folder, globalBatch: batch, seed: 1, views: .training, normalization: raw)
        var batches = ShardedBatches(source: source, rank: 0, worldSize: 1, decodeThreads: threads, capacity: batch)
        let inputs = UnsafeMutablePointer<Float>.allocate(capacity: batch * source.inputFloats)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batch)
        defer {
            inputs.deallocate()
            labels.deallocate()
        }
        _ = try batches.load(iteration: 0, images: inputs, labels: labels)
        let start = monotonicSeconds()
        var count = 0
        var iteration = 1
        while count < wanted {
            count += try batches.load(iteration: iteration, images: inputs, labels: labels).local
            iteration += 1
        }
        images = count
        seconds = monotonicSeconds() - start
    }
}
