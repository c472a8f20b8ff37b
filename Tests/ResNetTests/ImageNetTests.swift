import Foundation
import Testing

@testable import ResNet

/// The paper's ImageNet networks (Table 1), against torchvision's counts.
struct ImageNetTests {
    @Test(
        "parameters and multiply-adds match torchvision",
        arguments: [
            ("resnet18", 11_689_512, 1_814_073_344), ("resnet34", 21_797_672, 3_663_761_408),
        ])
    func counts(name: String, parameters: Int, macs: Int) throws {
        let net = Network(try Architecture.parse(name), batchCapacity: 1)
        #expect(net.parameterCount == parameters)
        #expect(net.macsPerImage == macs)
        #expect(net.store.spec(named: "layer4.0.downsample.0.weight")?.spec.shape == [512, 256, 1, 1])
        #expect(net.store.spec(named: "fc.weight")?.spec.shape == [1000, 512])
    }

    @Test func plainCounterpartsHaveNoProjections() throws {
        let plain = Network(try Architecture.parse("plain34"), batchCapacity: 1)
        #expect(plain.store.parameters.allSatisfy { !$0.name.contains("downsample") })
        #expect(plain.weightedLayers == 34)
    }

    /// Figure 4 compares plain and residual nets of equal parameters: option A (identity, subsampled
    /// and zero-padded in channels) adds none, so ResNet-18/34 with it have exactly the plain nets'
    /// parameters, torchvision's count less the three projections and their batch norms. Without
    /// --shortcut the ImageNet ResNets stay torchvision's option B; the checkpoint keeps the option.
    @Test("option A has the plain net's parameters", arguments: [18, 34])
    func optionAHasThePlainNetsParameters(depth: Int) throws {
        #expect(try Architecture.parse("resnet\(depth)").shortcut == .B)
        #expect(try Architecture.parse("resnet20").shortcut == .A)
        let residual = try Architecture.parse("resnet\(depth)", shortcut: .A)
        #expect(residual.description == "resnet\(depth)/A")
        let net = Network(residual, batchCapacity: 1)
        let plain = Network(try Architecture.parse("plain\(depth)"), batchCapacity: 1)
        let projections = 64 * 128 + 2 * 128 + 128 * 256 + 2 * 256 + 256 * 512 + 2 * 512
        #expect(projections == 173_824)
        #expect(net.parameterCount == [18: 11_689_512, 34: 21_797_672][depth]! - projections)
        #expect(net.parameterCount == plain.parameterCount)
        #expect(net.store.parameters.allSatisfy { !$0.name.contains("downsample") })

        let path = temporaryDirectory() + "/resnet\(depth)-A.safetensors"
        try Checkpoint.save(net, normalization: .pytorchCIFAR10, run: nil, to: path)
        #expect(try Checkpoint.load(path).architecture == residual)
    }

    @Test("forward and backward at batch 2 against central differences", arguments: [ShortcutOption.B, .A])
    func resnet18ForwardAndBackwardAtBatch2(shortcut: ShortcutOption) throws {
        let net = Network(try Architecture.parse("resnet18", shortcut: shortcut), batchCapacity: 2)
        net.initialize(seed: 1)
        var rng = SplitMix64(seed: 5)
        for i in 0..<(2 * net.imageFloats) { net.inputImages[i] = rng.nextNormal() }
        net.inputLabels[0] = 3
        net.inputLabels[1] = 997
        let (loss, _) = try net.trainStep(batch: 2, gradScale: 0.5)
        // Near chance at initialisation: log(1000) = 6.9 per image.
        #expect(loss / 2 > 5 && loss / 2 < 10)
        let directional = try directionalDerivativeError(net, batch: 2, epsilon: 1e-3)
        #expect(directional < 2e-2, "relative error of the directional derivative: \(directional)")
    }

    @Test func cifarNetworkDirectionalDerivative() throws {
        let net = Network(try Architecture.parse("resnet8", shortcut: .B), batchCapacity: 4)
        net.initialize(seed: 2)
        var rng = SplitMix64(seed: 6)
        for i in 0..<(4 * net.imageFloats) { net.inputImages[i] = rng.nextNormal() }
        for i in 0..<4 { net.inputLabels[i] = Int32(i * 3) }
        try net.trainStep(batch: 4, gradScale: 0.25)
        #expect(try directionalDerivativeError(net, batch: 4) < 1e-2)
    }

    /// Compares the gradient along its own direction with central differences of the whole
    /// network's loss (training-mode BN): |g.d - (L(w+e d) - L(w-e d)) / 2e| / |g.d|.
    func directionalDerivativeError(_ net: Network, batch: Int, epsilon e: Float = 1e-2) throws -> Double {
        let store = net.store
        let count = store.parameterCount
        let grad = Array(UnsafeBufferPointer(start: store.gradients, count: count))
        let norm = grad.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let direction = grad.map { Float(Double($0) / norm) }
        let analytic = norm  // g . (g / |g|)
        let saved = Array(UnsafeBufferPointer(start: store.values, count: count))
        let buffers = Array(UnsafeBufferPointer(start: store.bufferValues, count: store.bufferCount))
        func loss(_ epsilon: Float) throws -> Double {
            for i in 0..<count { store.values[i] = saved[i] + epsilon * direction[i] }
            let l = try net.trainStep(batch: batch, gradScale: 1 / Float(batch)).lossSum / Double(batch)
            store.bufferValues.update(from: buffers, count: buffers.count)
            return l
        }
        let numeric = (try loss(e) - loss(-e)) / Double(2 * e)
        store.values.update(from: saved, count: count)
        return abs(numeric - analytic) / abs(analytic)
    }
}

/// VGG-19 as torchvision builds it.
struct VGGTests {
    @Test("parameters and multiply-adds match torchvision", arguments: [(false, 143_667_240), (true, 143_678_248)])
    func counts(batchNorm: Bool, parameters: Int) {
        let net = VGG(batchNorm: batchNorm, batchCapacity: 1)
        #expect(net.parameterCount == parameters)
        #expect(net.macsPerImage == 19_632_062_464)
        #expect(net.store.spec(named: "classifier.0.weight")?.spec.shape == [4096, 25088])
    }

    /// What a replica link hears and is asked during one step.
    final class RecordingLink: ReplicaLink {
        var ready: [Int] = []
        var statisticsSums = 0
        let synchronizesStatistics: Bool
        init(synchronizesStatistics: Bool) { self.synchronizesStatistics = synchronizesStatistics }
        func gradientsReady(from offset: Int) throws { ready.append(offset) }
        func sumOverReplicas(_ statistics: UnsafeMutableBufferPointer<Double>) throws { statisticsSums += 1 }
    }

    /// One step at 224x224 through the ResNets' own chain: the loss of an untrained net is about
    /// ln 1000, the last layer's bias gradient is softmax minus one-hot, gradients reach the first
    /// layer, and the replicas hear of finished gradients layer by layer back to the first (the
    /// hooks the gradient buckets start on) and are asked for every batch norm's statistics.
    @Test func forwardAndBackwardAt224SharesTheResNetMachinery() throws {
        let net = VGG(batchNorm: true, batchCapacity: 1)
        net.initialize(seed: 1)
        var rng = SplitMix64(seed: 3)
        for i in 0..<net.imageFloats { net.inputImages[i] = rng.nextNormal() }
        net.inputLabels[0] = 7
        let link = RecordingLink(synchronizesStatistics: true)
        let (loss, _) = try net.trainStep(batch: 1, gradScale: 1, replicas: link)
        #expect(abs(loss - log(1000)) < 0.5, "loss \(loss)")

        let logits = (0..<1000).map { Double(net.chain.logits[$0]) }
        let top = logits.max()!
        let total = logits.reduce(0) { $0 + exp($1 - top) }
        let bias = net.store.spec(named: "classifier.6.bias")!.spec
        for k in [0, 7, 999] {
            let expected = exp(logits[k] - top) / total - (k == 7 ? 1 : 0)
            #expect(abs(Double(net.store.gradients[bias.offset + k]) - expected) < 1e-5, "class \(k)")
        }
        let first = net.store.spec(named: "features.0.weight")!.spec
        let g = UnsafeBufferPointer(start: net.store.gradients + first.offset, count: first.count)
        #expect(g.contains { $0 != 0 } && g.allSatisfy(\.isFinite))

        // 3 fc layers and 16 convs, from the classifier back to offset 0, each a layer's first parameter.
        let firstParameters = net.chain.layers.compactMap(\.firstParameter)
        #expect(link.ready == firstParameters.reversed() && link.ready.count == 19 && link.ready.last == 0)
        #expect(link.statisticsSums == 2 * 16, "forward and backward of 16 batch norms: \(link.statisticsSums)")
    }
}
