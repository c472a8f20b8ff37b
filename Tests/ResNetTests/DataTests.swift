import Foundation
import Testing

@testable import ResNet

struct DataTests {
    func writeRecords(_ path: String, labels: [UInt8], extraBytes: Int = 0) {
        var bytes: [UInt8] = []
        for (i, l) in labels.enumerated() {
            bytes.append(l)
            bytes += (0..<3072).map { UInt8(($0 + i) % 256) }
        }
        bytes += [UInt8](repeating: 7, count: extraBytes)
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    @Test func readsTheBinaryFormat() throws {
        let dir = temporaryDirectory()
        let path = dir + "/small.bin"
        writeRecords(path, labels: [3, 9, 0])
        let data = try CIFAR10.load([path])
        #expect(data.count == 3)
        #expect(data.labels == [3, 9, 0])
        #expect(data.images[3072] == 1)  // second image, red plane, first pixel
    }

    @Test func rejectsATruncatedFile() throws {
        let dir = temporaryDirectory()
        let path = dir + "/cut.bin"
        writeRecords(path, labels: [1, 2], extraBytes: 100)
        #expect { try CIFAR10.load([path]) } throws: { isError($0, .data, naming: path, "truncated") }
    }

    @Test func rejectsAStandardFileOfTheWrongSize() throws {
        let dir = temporaryDirectory()
        writeRecords(dir + "/data_batch_1.bin", labels: [1, 2, 3])
        #expect { try CIFAR10.loadTraining(from: dir) } throws: {
            isError($0, .data, naming: "data_batch_1.bin", "30730000")
        }
    }

    @Test func rejectsALabelAboveNine() throws {
        let dir = temporaryDirectory()
        let path = dir + "/bad.bin"
        writeRecords(path, labels: [1, 10, 2])
        #expect { try CIFAR10.load([path]) } throws: { isError($0, .data, naming: path, "record 1", "label 10") }
    }

    @Test func namesAMissingFile() {
        #expect { try CIFAR10.loadTest(from: "/nonexistent-dir") } throws: {
            isError($0, .data, naming: "/nonexistent-dir/test_batch.bin")
        }
    }

    @Test func shardsSplitEveryGlobalBatch() {
        let data = SyntheticData.make(count: 100, seed: 1)
        let loader = BatchLoader(data: data, globalBatch: 24, seed: 1, augment: true, normalization: .pytorchCIFAR10)
        #expect(loader.batchesPerEpoch == 5)
        for world in [1, 2, 3, 4] {
            for b in 0..<5 {
                let shards = (0..<world).map { loader.shard(batch: b, rank: $0, worldSize: world) }
                #expect(shards.map(\.local.count).reduce(0, +) == shards[0].global.count)
                for r in 1..<world { #expect(shards[r].local.lowerBound == shards[r - 1].local.upperBound) }
            }
        }
        // The last batch holds the 4 remaining images.
        #expect(loader.shard(batch: 4, rank: 0, worldSize: 1).global == 96..<100)
    }

    /// --drop-last: 100 images at batch 24 are 4 full batches an epoch (96 images), each the base
    /// loader's batch of the same positions; which 4 images sit out changes with the epoch.
    @Test func fullBatchesLeaveOutTheEpochsLastShortBatch() throws {
        let data = SyntheticData.make(count: 100, seed: 1)
        let loader = BatchLoader(data: data, globalBatch: 24, seed: 1, augment: true, normalization: .pytorchCIFAR10)
        let full = FullBatches(loader)
        #expect(full.count == 96 && full.batchesPerEpoch == 4 && loader.batchesPerEpoch == 5)
        for epoch in 0..<3 { #expect(full.permutation(epoch: epoch) == Array(loader.permutation(epoch: epoch).prefix(96))) }
        let leftOut = (0..<3).map { Set(loader.permutation(epoch: $0).suffix(4)) }
        #expect(leftOut[0] != leftOut[1] && leftOut[1] != leftOut[2])

        var batches = ShardedBatches(source: full, rank: 1, worldSize: 2)
        var reference = ShardedBatches(source: loader, rank: 1, worldSize: 2)
        var images = [Float](repeating: 0, count: 12 * 3072), expected = images
        var labels = [Int32](repeating: 0, count: 12), expectedLabels = labels
        // Iterations 0-3 are epoch 0's batches 0-3; iteration 4 is epoch 1's first, the base loader's iteration 5.
        for (iteration, baseIteration) in [(0, 0), (3, 3), (4, 5), (9, 11)] {
            let (local, global) = try batches.load(iteration: iteration, images: &images, labels: &labels)
            let base = try reference.load(iteration: baseIteration, images: &expected, labels: &expectedLabels)
            #expect(local == 12 && global == 24 && base.local == 12)
            #expect(images == expected && labels == expectedLabels, "iteration \(iteration)")
        }
    }

    @Test func augmentationDependsOnlyOnSeedEpochAndPosition() {
        let data = SyntheticData.make(count: 64, seed: 1)
        let loader = BatchLoader(data: data, globalBatch: 16, seed: 5, augment: true, normalization: .pytorchCIFAR10)
        let order = loader.permutation(epoch: 2)
        #expect(Set(order).count == 64)
        var whole = [Float](repeating: 0, count: 16 * 3072)
        var halves = whole
        var labels = [Int32](repeating: 0, count: 16)
        loader.fill(epoch: 2, order: order, positions: 16..<32, images: &whole, labels: &labels)
        halves.withUnsafeMutableBufferPointer { p in
            loader.fill(epoch: 2, order: order, positions: 16..<24, images: p.baseAddress!, labels: &labels)
            loader.fill(epoch: 2, order: order, positions: 24..<32, images: p.baseAddress! + 8 * 3072, labels: &labels)
        }
        #expect(whole == halves)
        #expect(loader.permutation(epoch: 2) == order)
        #expect(loader.permutation(epoch: 3) != order)
    }

    @Test func perChannelNormalisationOfTheConstants() {
        let (scale, offset) = Normalization.pytorchCIFAR10.affine(side: 32)
        // A pixel of 255 in the red plane: (1 - 0.4914) / 0.2470.
        #expect(abs(255 * scale[0] + offset[0] - (1 - 0.4914) / 0.2470) < 1e-5)
        #expect(abs(offset[2048] - (-0.4465 / 0.2616)) < 1e-5)
    }
}
