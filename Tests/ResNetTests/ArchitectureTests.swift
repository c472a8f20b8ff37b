import Testing

@testable import ResNet

/// Parameter and multiply-add counts against the paper's networks (and the common PyTorch definitions).
struct ArchitectureTests {
    @Test(
        "trainable parameters",
        arguments: [
            ("resnet20", ShortcutOption.A, 269_722), ("resnet32", .A, 464_154), ("resnet44", .A, 658_586),
            ("resnet56", .A, 853_018), ("resnet110", .A, 1_727_962), ("resnet1202", .A, 19_421_274),
            ("resnet20", .B, 272_474), ("resnet56", .B, 855_770), ("resnet110", .B, 1_730_714),
        ])
    func parameterCount(name: String, shortcut: ShortcutOption, expected: Int) throws {
        let arch = try Architecture.parse(name, shortcut: shortcut)
        #expect(Network(arch, batchCapacity: 1).parameterCount == expected)
    }

    @Test(
        "multiply-adds per 32x32 image",
        arguments: [
            ("resnet20", 40_551_040), ("resnet56", 125_485_696), ("resnet110", 252_887_680),
        ])
    func macs(name: String, expected: Int) throws {
        #expect(Network(try Architecture.parse(name), batchCapacity: 1).macsPerImage == expected)
    }

    @Test func plainNetHasTheSameLayersWithoutShortcuts() throws {
        let plain = Network(try Architecture.parse("plain20"), batchCapacity: 1)
        let resnet = Network(try Architecture.parse("resnet20"), batchCapacity: 1)
        #expect(plain.parameterCount == resnet.parameterCount)
        #expect(plain.weightedLayers == 20)
        #expect(plain.blocks.allSatisfy { if case .none = $0.shortcut { true } else { false } })
    }

    @Test func torchvisionNames() throws {
        let net = Network(try Architecture.parse("resnet20", shortcut: .B), batchCapacity: 1)
        let names = Set(net.store.parameters.map(\.name) + net.store.buffers.map(\.name))
        for name in [
            "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
            "layer1.0.conv1.weight", "layer1.2.bn2.running_var", "layer2.0.downsample.0.weight",
            "layer3.0.downsample.1.running_mean", "fc.weight", "fc.bias",
        ] {
            #expect(names.contains(name), "\(name)")
        }
        #expect(net.store.spec(named: "layer2.0.conv1.weight")?.spec.shape == [32, 16, 3, 3])
        #expect(net.store.spec(named: "fc.weight")?.spec.shape == [10, 64])
    }

    @Test("depths that are not 6n+2 are refused", arguments: ["resnet21", "resnet2", "plain7", "vgg16", "resnet"])
    func badDepth(name: String) {
        #expect { try Architecture.parse(name) } throws: { ($0 as? ResNetError)?.kind == .architecture }
    }

    @Test func heInitialisation() throws {
        let net = Network(try Architecture.parse("resnet56"), batchCapacity: 1)
        net.initialize(seed: 3)
        let spec = net.store.spec(named: "layer3.4.conv2.weight")!.spec
        let w = UnsafeBufferPointer(start: net.store.values + spec.offset, count: spec.count)
        let variance = w.map { Double($0) * Double($0) }.reduce(0, +) / Double(w.count)
        // Kaiming normal, fan-out = 64 * 3 * 3: variance 2/576.
        #expect(abs(variance / (2.0 / 576) - 1) < 0.05)
        let gamma = net.store.spec(named: "layer3.4.bn2.weight")!.spec
        #expect(UnsafeBufferPointer(start: net.store.values + gamma.offset, count: gamma.count).allSatisfy { $0 == 1 })
    }

    /// Goyal et al.'s zero γ: with every block's last batch-norm weight 0, a block adds nothing to its
    /// shortcut, so the logits cannot depend on the blocks' convolutions; a step still reaches γ.
    @Test func zeroResidualBranchesStartEveryBlockAsItsShortcut() throws {
        func network(zeroGamma: Bool) throws -> Network {
            let net = Network(try Architecture.parse("resnet14"), batchCapacity: 2)
            net.initialize(seed: 3)
            if zeroGamma { net.zeroResidualBranches() }
            var rng = SplitMix64(seed: 9)
            for i in 0..<(2 * net.imageFloats) { net.inputImages[i] = rng.nextNormal() }
            net.inputLabels[0] = 1
            net.inputLabels[1] = 7
            return net
        }
        func logits(_ net: Network) throws -> [Float] {
            Array(UnsafeBufferPointer(start: try net.forward(batch: 2, training: true), count: 20))
        }
        /// Every block's convolution weights replaced by other random values.
        func scrambleBlockConvolutions(_ net: Network) {
            var rng = SplitMix64(seed: 11)
            for spec in net.store.parameters where spec.name.hasPrefix("layer") && spec.name.hasSuffix("weight") && spec.shape.count == 4 {
                for i in 0..<spec.count { net.store.values[spec.offset + i] = rng.nextNormal() * 0.1 }
            }
        }
        let plain = try network(zeroGamma: false)
        let zeroed = try network(zeroGamma: true)
        for spec in zeroed.store.parameters {
            let a = UnsafeBufferPointer(start: plain.store.values + spec.offset, count: spec.count)
            let b = UnsafeBufferPointer(start: zeroed.store.values + spec.offset, count: spec.count)
            if spec.name.hasSuffix(".bn2.weight") {
                #expect(b.allSatisfy { $0 == 0 } && a.allSatisfy { $0 == 1 }, "\(spec.name)")
            } else {
                #expect(Array(a) == Array(b), "\(spec.name) must not change")
            }
        }
        #expect(zeroed.store.parameters.filter { $0.name.hasSuffix(".bn2.weight") }.count == 6)

        let before = try logits(zeroed)
        scrambleBlockConvolutions(zeroed)
        #expect(try logits(zeroed) == before, "the blocks' convolutions reached the logits")
        let plainBefore = try logits(plain)
        scrambleBlockConvolutions(plain)
        #expect(try logits(plain) != plainBefore, "control: with γ = 1 they do")

        try zeroed.trainStep(batch: 2, gradScale: 0.5)
        let gamma = zeroed.store.spec(named: "layer1.0.bn2.weight")!.spec
        let g = UnsafeBufferPointer(start: zeroed.store.gradients + gamma.offset, count: gamma.count)
        #expect(g.contains { $0 != 0 }, "γ gets a gradient, so the branches open as training goes")
    }
}
