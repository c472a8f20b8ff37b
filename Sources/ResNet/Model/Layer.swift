import Kernels

/// One link of a network's chain, as `LayerChain` drives it: forward reads the previous layer's
/// output and writes this layer's own arena slice; backward turns the gradient of that output into
/// the gradient of the input and writes the layer's parameter gradients. A ResNet's links are its
/// first conv, pool, basic blocks and head; VGG's are its convs, pools and fully connected layers.
protocol Layer: AnyObject {
    /// Arena slice of the output, and its floats per image.
    var output: Int { get }
    var outputSize: Int { get }
    /// Offset of the layer's first parameter: once its backward is done, every gradient from there
    /// up is final. Nil for a layer without parameters.
    var firstParameter: Int? { get }
    /// Multiply-adds of one image's forward pass.
    var macsPerImage: Int { get }
    /// Draws the layer's initial parameters from `rng` (layers are initialised in forward order).
    func initialize(_ rng: inout SplitMix64)
    /// `statistics` sums batch-norm statistics over the replicas (synchronised batch norm), or nil.
    func forward(input: UnsafePointer<Float>, batch: Int, training: Bool, statistics: StatisticsReducer?) throws
    /// `outputGrad` may be overwritten; `scratch` holds as much as the largest activation;
    /// `inputGrad` is nil for the first layer (no one needs the gradient of the images). `replicas`
    /// sums batch-norm statistics (synchronised batch norm) and may hear of gradients that are
    /// final before the layer's backward ends (the chain reports the layer's own after it).
    func backward(
        input: UnsafePointer<Float>, outputGrad: UnsafeMutablePointer<Float>, inputGrad: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>, batch: Int, replicas: ReplicaLink?) throws
}

/// A conv + BN (or VGG's conv + bias) + ReLU with its output slice: a ResNet's first layer, each of
/// VGG's sixteen.
final class ConvLayer: Layer {
    let unit: ConvBN
    let output: Int
    unowned let context: NetworkContext

    init(_ unit: ConvBN, context: NetworkContext) {
        self.unit = unit
        self.context = context
        output = context.arena.reserve(context.batchCapacity * unit.outputSize)
    }

    var outputSize: Int { unit.outputSize }
    var firstParameter: Int? { unit.weightOffset }
    var macsPerImage: Int { unit.conv.macsPerImage }
    func initialize(_ rng: inout SplitMix64) { unit.initialize(&rng) }

    func forward(input: UnsafePointer<Float>, batch: Int, training: Bool, statistics: StatisticsReducer?) throws {
        try unit.forward(
            input: input, output: context.arena[output], batch: batch, training: training, relu: true,
            statistics: statistics)
    }

    func backward(
        input: UnsafePointer<Float>, outputGrad: UnsafeMutablePointer<Float>, inputGrad: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>, batch: Int, replicas: ReplicaLink?
    ) throws {
        try unit.backward(
            input: input, outputGrad: outputGrad, reluOutput: context.arena[output], inputGrad: inputGrad,
            accumulate: false, batch: batch, statistics: replicas?.statisticsReducer)
    }
}

extension MaxPoolLayer: Layer {
    var outputSize: Int { pool.outputSize }
    var firstParameter: Int? { nil }
    var macsPerImage: Int { 0 }
    func initialize(_ rng: inout SplitMix64) {}

    func forward(input: UnsafePointer<Float>, batch: Int, training: Bool, statistics: StatisticsReducer?) throws {
        pool.forward(input: input, output: context.arena[output], argmax: argmax, batch: batch, threads: context.threads)
    }

    func backward(
        input: UnsafePointer<Float>, outputGrad: UnsafeMutablePointer<Float>, inputGrad: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>, batch: Int, replicas: ReplicaLink?
    ) throws {
        guard let inputGrad else { return }
        pool.backward(outputGrad: outputGrad, argmax: argmax, inputGrad: inputGrad, batch: batch, threads: context.threads)
    }
}

extension BasicBlock: Layer {
    var firstParameter: Int? { conv1.weightOffset }
    var macsPerImage: Int { layers.reduce(0) { $0 + $1.conv.macsPerImage } }
    func initialize(_ rng: inout SplitMix64) { for layer in layers { layer.initialize(&rng) } }

    func backward(
        input: UnsafePointer<Float>, outputGrad: UnsafeMutablePointer<Float>, inputGrad: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>, batch: Int, replicas: ReplicaLink?
    ) throws {
        // A block is never a network's first layer: its input's gradient is always wanted.
        try backward(
            input: input, outputGrad: outputGrad, inputGrad: inputGrad!, scratch: scratch, batch: batch,
            replicas: replicas)
    }
}
