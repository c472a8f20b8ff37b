import Distributed
import Foundation
import Testing

@testable import ResNet

struct CheckpointTests {
    let data = SyntheticData.make(count: 160, seed: 6)

    func train(_ config: TrainingConfiguration, replicas: Int = 1) throws -> TrainingResult {
        try InProcessReplicas.train(
            replicas: replicas, config: config, train: data, test: nil,
            normalization: .perPixelMean(of: data), logger: quietLogger)
    }

    @Test func safetensorsLayout() throws {
        let dir = temporaryDirectory()
        let net = Network(try Architecture.parse("resnet20"), batchCapacity: 1)
        net.initialize(seed: 1)
        let path = dir + "/model.safetensors"
        try Checkpoint.save(net, normalization: .pytorchCIFAR10, run: nil, to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: bytes[8..<(8 + headerLength)]) as! [String: Any]
        let conv = header["layer2.0.conv1.weight"] as! [String: Any]
        #expect(conv["dtype"] as? String == "F32")
        #expect(conv["shape"] as? [Int] == [32, 16, 3, 3])
        let meta = header["__metadata__"] as! [String: String]
        #expect(meta["arch"] == "resnet20" && meta["shortcut"] == "A" && meta["normalization"] == "per-channel")
        // The first tensor in the data is conv1.weight, little-endian float32.
        let first = header["conv1.weight"] as! [String: Any]
        let offsets = first["data_offsets"] as! [Int]
        let value = bytes.withUnsafeBytes {
            $0.loadUnaligned(fromByteOffset: 8 + headerLength + offsets[0], as: Float.self)
        }
        #expect(value == net.store.values[net.store.spec(named: "conv1.weight")!.spec.offset])
        // Round trip into a fresh network.
        let other = Network(try Architecture.parse("resnet20"), batchCapacity: 1)
        let loaded = try Checkpoint.load(path)
        try loaded.apply(to: other, optimizer: false)
        #expect(other.digest() == net.digest())
        #expect(try loaded.normalization() == .pytorchCIFAR10)
    }

    @Test func resumeIsBitIdentical() throws {
        let straight = temporaryDirectory()
        let split = temporaryDirectory()
        var config = smallConfig(batch: 16, iterations: 16)
        config.outputDirectory = straight
        let full = try train(config)
        config.outputDirectory = split
        config.stopAfter = 8
        _ = try train(config)
        config.stopAfter = nil
        config.resume = .auto
        let resumed = try train(config)
        #expect(resumed.losses == Array(full.losses.suffix(8)))
        let a = try tensorBytes(straight + "/checkpoint-00000016.safetensors")
        let b = try tensorBytes(split + "/checkpoint-00000016.safetensors")
        #expect(a.count > 50 && a == b, "every tensor (weights, BN statistics, momentum) byte-identical")
    }

    @Test func resumeInsideTheWarmupWindowIsBitIdentical() throws {
        // The paper's warm-up over windows of 6 iterations; the run stops 4 iterations into the
        // first window and must carry the window's error sum over, switching at the same step.
        var config = smallConfig(batch: 16, iterations: 12)
        config.schedule.warmup = .init(window: 6)
        config.schedule.warmup!.errorThreshold = 0.999
        let straight = temporaryDirectory()
        config.outputDirectory = straight
        config.checkpointEvery = 1
        config.keepCheckpoints = 20
        let full = try train(config)
        let split = temporaryDirectory()
        config.outputDirectory = split
        config.stopAfter = 4
        _ = try train(config)
        let middle = try Checkpoint.load(split + "/checkpoint-00000004.safetensors").run!
        #expect(!middle.warmupDone && middle.warmupWindowSteps == 4 && middle.warmupWindowErrorSum > 0)
        config.stopAfter = nil
        config.resume = .auto
        let resumed = try train(config)
        #expect(resumed.losses == Array(full.losses.suffix(8)))
        let switched = try Checkpoint.load(straight + "/checkpoint-00000006.safetensors").run!
        #expect(switched.warmupDone && switched.learningRate == 0.05)
        #expect(try Checkpoint.load(straight + "/checkpoint-00000005.safetensors").run!.learningRate == 0.01)
        let a = try tensorBytes(straight + "/checkpoint-00000012.safetensors")
        let b = try tensorBytes(split + "/checkpoint-00000012.safetensors")
        #expect(a.count > 50 && a == b, "every tensor (weights, BN statistics, momentum) byte-identical")
    }

    @Test func elasticResumeOnOtherWorldSizes() throws {
        let dir = temporaryDirectory()
        var config = smallConfig(batch: 12, iterations: 12)
        config.outputDirectory = dir
        config.stopAfter = 6
        _ = try train(config, replicas: 2)
        let written = try Checkpoint.load(dir + "/checkpoint-00000006.safetensors")
        #expect(written.run?.worldSize == 2 && written.run?.iteration == 6)
        for ranks in [1, 3] {
            let copy = temporaryDirectory("elastic\(ranks)")
            try FileManager.default.copyItem(
                atPath: dir + "/checkpoint-00000006.safetensors",
                toPath: copy + "/checkpoint-00000006.safetensors")
            var resumed = config
            resumed.outputDirectory = copy
            resumed.stopAfter = nil
            resumed.resume = .auto
            let result = try train(resumed, replicas: ranks)
            #expect(result.iterations == 12 && result.losses.count == 6, "\(ranks) ranks continue from iteration 6")
            let final = try Checkpoint.load(copy + "/checkpoint-00000012.safetensors")
            #expect(final.run?.iteration == 12 && final.run?.worldSize == ranks && final.run?.globalBatch == 12)
        }
    }

    @Test func corruptAndTruncatedCheckpointsAreRefused() throws {
        let dir = temporaryDirectory()
        var config = smallConfig(batch: 16, iterations: 6)
        config.outputDirectory = dir
        config.checkpointEvery = 3
        _ = try train(config)
        let newest = dir + "/checkpoint-00000006.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        bytes[bytes.count - 100] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: newest))
        #expect { try Checkpoint.load(newest) } throws: { isError($0, .damagedCheckpoint, naming: newest, "checksum") }
        var warnings: [String] = []
        let picked = try CheckpointDirectory(path: dir).latestGood(expected: config.architecture) {
            warnings.append($0)
        }
        #expect(picked?.run?.iteration == 3)
        #expect(warnings.count == 1 && warnings[0].contains(newest))

        let cut = dir + "/cut.safetensors"
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: cut))
        #expect { try Checkpoint.load(cut) } throws: { isError($0, .damagedCheckpoint, naming: cut, "truncated") }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: cut))
        #expect { try Checkpoint.load(cut) } throws: { isError($0, .damagedCheckpoint, naming: cut) }
    }

    @Test func checkpointOfAnotherArchitectureIsRefused() throws {
        let dir = temporaryDirectory()
        let net = Network(try Architecture.parse("resnet20"), batchCapacity: 1)
        try Checkpoint.save(net, normalization: .pytorchCIFAR10, run: nil, to: dir + "/a.safetensors")
        #expect { try Checkpoint.load(dir + "/a.safetensors", expected: try Architecture.parse("resnet32")) } throws: {
            isError($0, .mismatchedCheckpoint, naming: "resnet20/A, not resnet32/A")
        }
    }

    @Test func bareStateDictLoadsAndNamesMissingKeys() throws {
        // A state dict as PyTorch writes it: model tensors, extra num_batches_tracked, no metadata.
        let dir = temporaryDirectory()
        let net = Network(try Architecture.parse("resnet20"), batchCapacity: 1)
        net.initialize(seed: 4)
        let store = net.store
        var tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] = []
        for s in store.parameters {
            tensors.append((s.name, s.shape, .init(start: store.values + s.offset, count: s.count)))
        }
        for s in store.buffers {
            tensors.append((s.name, s.shape, .init(start: store.bufferValues + s.offset, count: s.count)))
        }
        let one: [Float] = [3]
        try one.withUnsafeBufferPointer { p in
            try SafeTensorsFile.write(
                tensors + [("bn1.num_batches_tracked", [], p)], metadata: [:], to: dir + "/torch.safetensors")
        }
        let other = Network(try Architecture.parse("resnet20"), batchCapacity: 1)
        try Checkpoint.load(dir + "/torch.safetensors", expected: try Architecture.parse("resnet20")).apply(
            to: other, optimizer: false)
        #expect(other.digest() == net.digest())
        try SafeTensorsFile.write(Array(tensors.dropLast()), metadata: [:], to: dir + "/partial.safetensors")
        let last = tensors.last!.name
        #expect {
            try Checkpoint.load(dir + "/partial.safetensors", expected: try Architecture.parse("resnet20")).apply(
                to: other, optimizer: false)
        } throws: {
            isError($0, .damagedCheckpoint, naming: "missing tensor '\(last)'")
        }
    }
}
