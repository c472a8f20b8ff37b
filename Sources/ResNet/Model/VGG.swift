import Kernels

/// VGG-19 (Simonyan and Zisserman), the paper's reference point in Figure 3, as torchvision builds
/// it: sixteen 3x3 convolutions with bias (each optionally followed by BN) and ReLU, five 2x2 max
/// pools, then fc 25088-4096-4096-1000 with ReLU, on 224x224 inputs. torchvision's parameter names
/// (`features.{i}.weight`, `classifier.{0,3,6}.*`). Built from the ResNets' pieces (`ConvLayer`s of
/// `ConvBN`, with a bias and BN optional, `MaxPoolLayer`s, `DenseLayer`s) and run by their
/// `LayerChain`: one forward, backward and set of replica hooks for every network. Its two dropout
/// layers are left out (they hold no parameters; training VGG here is for counts and speed).
public final class VGG {
    /// Widths of the convolutions; nil is a 2x2/2 max pool.
    public static let configuration19: [Int?] = [
        64, 64, nil, 128, 128, nil, 256, 256, 256, 256, nil,
        512, 512, 512, 512, nil, 512, 512, 512, 512, nil,
    ]
    public static let inputSize = 224

    /// The layers, forward and backward, loss and replica hooks: the ResNets' own.
    let chain: LayerChain
    public let batchNorm: Bool

    public init(batchNorm: Bool, batchCapacity: Int, classes: Int = 1000, threads: Int = 1) {
        self.batchNorm = batchNorm
        let context = NetworkContext(batchCapacity: batchCapacity, threads: threads)
        chain = LayerChain(context: context, imageFloats: 3 * Self.inputSize * Self.inputSize) {
            var layers: [Layer] = []
            var channels = 3
            var size = Self.inputSize
            var index = 0  // torchvision's index in `features` (conv, [bn,] relu, ..., pool)
            for width in Self.configuration19 {
                if let width {
                    let unit = ConvBN(
                        context, convName: "features.\(index)", bnName: "features.\(index + 1)",
                        inChannels: channels, outChannels: width, kernelSize: 3, stride: 1,
                        inSize: (size, size), bias: true, batchNorm: batchNorm)
                    layers.append(ConvLayer(unit, context: context))
                    channels = width
                    index += batchNorm ? 3 : 2
                } else {
                    let pool = MaxPoolLayer(
                        context, channels: channels, inSize: (size, size), kernelSize: 2, stride: 2, padding: 0)
                    layers.append(pool)
                    size = pool.outSize.0
                    index += 1
                }
            }
            // 512 * 7 * 7 features (the adaptive pool is the identity at 224), then fc 4096-4096-classes.
            var features = channels * size * size
            for (i, width) in [4096, 4096, classes].enumerated() {
                layers.append(
                    DenseLayer(
                        context, name: "classifier.\(3 * i)", inFeatures: features, outFeatures: width, relu: i < 2))
                features = width
            }
            return layers
        }
    }

    var context: NetworkContext { chain.context }
    public var store: ParameterStore { context.store }
    public var parameterCount: Int { store.parameterCount }
    public var inputImages: UnsafeMutablePointer<Float> { context.arena[chain.input] }
    public var inputLabels: UnsafeMutablePointer<Int32> { chain.labels }
    public var imageFloats: Int { 3 * Self.inputSize * Self.inputSize }
    /// Multiply-adds of one forward pass for one image (convolutions and fc).
    public var macsPerImage: Int { chain.macsPerImage }

    /// torchvision's initialisation: Kaiming normal (fan-out) convs with zero bias, BN 1/0,
    /// fc weights N(0, 0.01) with zero bias.
    public func initialize(seed: UInt64) { chain.initialize(seed: seed) }

    /// One training step (training-mode BN) on the first `batch` images, as `Network.trainStep`:
    /// the same chain, so `replicas` hears of finished gradients and sums batch-norm statistics.
    @discardableResult
    public func trainStep(
        batch: Int, gradScale: Float, labelSmoothing: Float = 0, replicas: ReplicaLink? = nil
    ) throws -> (lossSum: Double, correct: Int) {
        try chain.trainStep(batch: batch, gradScale: gradScale, labelSmoothing: labelSmoothing, replicas: replicas)
    }
}
