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
}
