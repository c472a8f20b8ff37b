import Distributed
import Testing

@testable import ResNet

/// A rank's thread count never changes what it computes: the same parameters, statistics and
/// momentum, to the bit, after three training steps at 1 to 4 threads, for shards smaller than the
/// thread count (split inside images and by channels) and larger (split by images).
struct ThreadCountTests {
    @Test(arguments: ["resnet8", "resnet8-B"], [1, 2, 3, 8])
    func stepBitsDoNotDependOnTheThreadCount(arch: String, batch: Int) throws {
        let name = arch.hasSuffix("-B") ? String(arch.dropLast(2)) : arch
        let shortcut: ShortcutOption = arch.hasSuffix("-B") ? .B : .A
        let parsed = try Architecture.parse(name, shortcut: shortcut)
        func run(_ threads: Int) throws -> UInt64 {
            let network = Network(parsed, batchCapacity: batch, threads: threads)
            network.initialize(seed: 3)
            var rng = SplitMix64(seed: 4)
            for i in 0..<(batch * network.imageFloats) { network.inputImages[i] = rng.nextNormal() }
            for i in 0..<batch { network.inputLabels[i] = Int32(rng.next() % 10) }
            let step = DataParallelStep(
                network: network, communicator: SingleProcessCommunicator(), optimizer: SGD(), syncBatchNorm: false)
            for _ in 0..<3 { _ = try step.run(images: batch, globalImages: batch, learningRate: 0.05) }
            return network.digest()
        }
        let one = try run(1)
        for threads in 2...4 { #expect(try run(threads) == one, "\(arch), batch \(batch): \(threads) threads") }
    }
}
