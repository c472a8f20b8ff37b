import Kernels

/// One stage of the CIFAR network: n basic blocks at one feature-map size; the first block
/// subsamples with stride 2 (except in the first stage) and changes the width.
final class Stage {
    let blocks: [BasicBlock]

    init(
        _ context: NetworkContext, index: Int, blocks count: Int, inChannels: Int, outChannels: Int,
        stride: Int, inSize: (Int, Int), residual: Bool, option: ShortcutOption
    ) {
        var blocks: [BasicBlock] = []
        var channels = inChannels
        var size = inSize
        for i in 0..<count {
            let block = BasicBlock(
                context, name: "layer\(index).\(i)", inChannels: channels, outChannels: outChannels,
                stride: i == 0 ? stride : 1, inSize: size, residual: residual, option: option)
            blocks.append(block)
            channels = outChannels
            size = block.outSize
        }
        self.blocks = blocks
    }
}

/// The paper's CIFAR-10 network (Section 4.2), ResNet or plain, for 32x32x3 inputs:
///
///     output map size | 32x32 | 16x16 | 8x8
///     # layers        | 1+2n  | 2n    | 2n
///     # filters       | 16    | 32    | 64
///
/// then global average pooling and a 10-way fully connected layer: 6n+2 weighted layers.
/// The ImageNet networks of Table 1 (18 and 34 layers) share the structure: a 7x7/2 conv and a
/// 3x3/2 max pool, then four stages of 64, 128, 256 and 512 filters, pooling and a 1000-way fc.
/// Tensors are float32 NCHW. All memory is allocated at construction for `batchCapacity` images;
/// `trainStep` and `evaluate` allocate nothing at any thread count (AllocationTests: the parallel
/// regions are structs handed to the pool's workers by address, `ParallelRegion`).
public final class Network {
    public let architecture: Architecture
    /// The layers, forward and backward, loss and replica hooks: what VGG shares too.
    let chain: LayerChain
    let blocks: [BasicBlock]

    public static let imageChannels = 3
    /// Floats of one input image, `3 * size * size`.
    public var imageFloats: Int { Self.imageChannels * architecture.inputSize * architecture.inputSize }

    /// `convolution` nil uses Winograd wherever it applies (the fast default); `.im2col` forces
    /// the GEMM path everywhere (a check that results do not hang on one kernel). `batchNormGroup`:
    /// ghost batch norm over groups of that many images (`NetworkContext.batchNormGroup`).
    public init(
        _ architecture: Architecture, batchCapacity: Int, threads: Int = 1, convolution: Convolution.Algorithm? = nil,
        batchNormGroup: Int? = nil
    ) {
        // The layers split work over `threads` themselves; BLAS stays at one thread (a spinning
        // BLAS pool collapses when ranks share cores).
        BLASThreads.set(1)
        self.architecture = architecture
        let context = NetworkContext(
            batchCapacity: batchCapacity, threads: threads, convolution: convolution, batchNormGroup: batchNormGroup)
        var blocks: [BasicBlock] = []
        chain = LayerChain(
            context: context, imageFloats: Self.imageChannels * architecture.inputSize * architecture.inputSize
        ) {
            // The paper's table, top to bottom: the first conv (and, for ImageNet, its pool), the
            // stages of basic blocks, then average pooling and the fc.
            let first = architecture.stem
            let stem = ConvLayer(
                ConvBN(
                    context, convName: "conv1", bnName: "bn1", inChannels: Self.imageChannels,
                    outChannels: first.width, kernelSize: first.kernel, stride: first.stride,
                    inSize: (architecture.inputSize, architecture.inputSize)),
                context: context)
            var layers: [Layer] = [stem]
            var channels = first.width
            var mapSize = stem.unit.outSize
            if first.maxPool {
                let pool = MaxPoolLayer(context, channels: channels, inSize: mapSize, kernelSize: 3, stride: 2, padding: 1)
                layers.append(pool)
                mapSize = pool.outSize
            }
            for (i, width) in architecture.stageWidths.enumerated() {
                let stage = Stage(
                    context, index: i + 1, blocks: architecture.stageBlocks[i], inChannels: channels,
                    outChannels: width, stride: i == 0 ? 1 : 2, inSize: mapSize, residual: architecture.isResidual,
                    option: architecture.shortcut)
                blocks += stage.blocks
                channels = width
                mapSize = stage.blocks.last!.outSize
            }
            return layers + blocks
                + [ClassifierHead(context, channels: channels, spatial: mapSize.0 * mapSize.1, classes: architecture.classes)]
        }
        self.blocks = blocks
    }

    var context: NetworkContext { chain.context }
    public var store: ParameterStore { context.store }
    public var batchCapacity: Int { context.batchCapacity }
    public var threads: Int { context.threads }

    /// When set, every layer records its time (the bench's breakdown).
    public var profile: StepProfile? {
        get { context.profile }
        set { context.profile = newValue }
    }

    /// Where the caller writes the batch: images [batch, 3, size, size] float32, normalised.
    public var inputImages: UnsafeMutablePointer<Float> { context.arena[chain.input] }
    /// Where the caller writes the batch's labels.
    public var inputLabels: UnsafeMutablePointer<Int32> { chain.labels }

    /// He initialisation for every conv, BN weight 1 / bias 0, PyTorch's default for the fc
    /// (uniform in ±1/sqrt(fan_in) for weight and bias), from `seed` alone.
    public func initialize(seed: UInt64) { chain.initialize(seed: seed) }

    /// Goyal et al. 2017, section 5.1 ("zero γ"): the last batch norm of every residual block starts
    /// with weight 0, so each block starts as its shortcut and the network as a shallow one whose
    /// depth grows as the weights move; their large-batch runs start so. Call after `initialize`.
    /// Only residual networks have it (a plain block would start as a dead end).
    public func zeroResidualBranches() {
        precondition(architecture.isResidual, "zero γ is for residual networks")
        for block in blocks { block.conv2.zeroBatchNormWeight() }
    }

    /// Forward pass over the first `batch` images of `inputImages`; returns the logits.
    /// `statistics` sums batch-norm statistics over the replicas (synchronised batch norm). A batch of
    /// 0 images (a data-parallel rank with nothing in a short last batch) runs every layer, and every
    /// exchange with the replicas, on nothing.
    @discardableResult
    public func forward(batch: Int, training: Bool, statistics: StatisticsReducer? = nil) throws -> UnsafePointer<Float> {
        try chain.forward(batch: batch, training: training, statistics: statistics)
        return UnsafePointer(chain.logits)
    }

    /// One forward and backward pass in training mode on the first `batch` images and labels.
    /// The loss is `sum of cross-entropies * gradScale` (use 1/global batch for a mean over all
    /// replicas), against labels smoothed by `labelSmoothing` (`SoftmaxCrossEntropy`; 0: one-hot).
    /// Returns the summed loss and the number of correct predictions, unscaled.
    /// `replicas`, handed in for this step only, hears as gradients become final and sums the
    /// batch-norm statistics when it synchronises them. `batch` may be 0: the gradients are then 0,
    /// and the replicas hear and are asked exactly what a rank with images would tell and ask.
    @discardableResult
    public func trainStep(
        batch: Int, gradScale: Float, labelSmoothing: Float = 0, replicas: ReplicaLink? = nil
    ) throws -> (lossSum: Double, correct: Int) {
        try chain.trainStep(batch: batch, gradScale: gradScale, labelSmoothing: labelSmoothing, replicas: replicas)
    }

    /// Eval-mode forward (running BN statistics): summed loss and correct count.
    public func evaluate(batch: Int) throws -> (lossSum: Double, correct: Int) { try chain.evaluate(batch: batch) }

    /// Trainable parameters.
    public var parameterCount: Int { store.parameterCount }
    /// Multiply-adds of one forward pass for one image (convolutions and fc).
    public var macsPerImage: Int { chain.macsPerImage }
    /// Weighted layers on the main path (convs and fc; option-B projections not counted).
    public var weightedLayers: Int { 1 + 2 * blocks.count + 1 }
    /// Bytes of activation storage per image (the arena over the batch capacity).
    public var activationBytesPerImage: Int { context.arena.count * 4 / batchCapacity }
}
