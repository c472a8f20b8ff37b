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
/// on one thread `trainStep` and `evaluate` allocate nothing (AllocationTests); on more, each
/// parallel region hands its body to the pool's workers in one 32-byte block (see `ChunkPool`).
public final class Network {
    public let architecture: Architecture
    let context: NetworkContext
    let stem: ConvBN
    /// The ImageNet networks' 3x3/2 max pool after the first layer (nil for the CIFAR networks).
    let stemPool: MaxPoolLayer?
    let stages: [Stage]
    let classifier: Linear
    let fcWeight: Int, fcBias: Int
    /// Arena slices: input images, stem output, pooled features, logits and their gradients.
    let input: Int, stemOutput: Int, pooled: Int, logits: Int, pooledGrad: Int, logitsGrad: Int
    /// Three gradient buffers as large as the largest activation, used in turn during backward.
    let gradients: [Int]
    let labels: UnsafeMutablePointer<Int32>
    let blocks: [BasicBlock]

    public static let imageChannels = 3
    /// Floats of one input image, `3 * size * size`.
    public var imageFloats: Int { Self.imageChannels * architecture.inputSize * architecture.inputSize }

    /// `convolution` nil uses Winograd wherever it applies (the fast default); `.im2col` forces
    /// the GEMM path everywhere (a check that results do not hang on one kernel).
    public init(
        _ architecture: Architecture, batchCapacity: Int, threads: Int = 1, convolution: Convolution.Algorithm? = nil
    ) {
        // The layers split work over `threads` themselves; BLAS stays at one thread (a spinning
        // BLAS pool collapses when ranks share cores).
        BLASThreads.set(1)
        self.architecture = architecture
        let context = NetworkContext(batchCapacity: batchCapacity, threads: threads, convolution: convolution)
        self.context = context
        let size = (architecture.inputSize, architecture.inputSize)
        let first = architecture.stem
        stem = ConvBN(
            context, convName: "conv1", bnName: "bn1", inChannels: Self.imageChannels,
            outChannels: first.width, kernelSize: first.kernel, stride: first.stride, inSize: size)
        var channels = first.width
        var mapSize = stem.outSize
        if first.maxPool {
            let pool = MaxPoolLayer(context, channels: channels, inSize: mapSize, kernelSize: 3, stride: 2, padding: 1)
            stemPool = pool
            mapSize = (pool.pool.outHeight, pool.pool.outWidth)
        } else {
            stemPool = nil
        }
        var stages: [Stage] = []
        for (i, width) in architecture.stageWidths.enumerated() {
            let stage = Stage(
                context, index: i + 1, blocks: architecture.stageBlocks[i], inChannels: channels, outChannels: width,
                stride: i == 0 ? 1 : 2, inSize: mapSize, residual: architecture.isResidual,
                option: architecture.shortcut)
            stages.append(stage)
            channels = width
            mapSize = stage.blocks.last!.outSize
        }
        self.stages = stages
        blocks = stages.flatMap(\.blocks)
        classifier = Linear(inFeatures: channels, outFeatures: architecture.classes)
        fcWeight = context.store.addParameter("fc.weight", shape: [architecture.classes, channels])
        fcBias = context.store.addParameter("fc.bias", shape: [architecture.classes])

        let arena = context.arena
        input = arena.reserve(batchCapacity * Self.imageChannels * size.0 * size.1)
        stemOutput = arena.reserve(batchCapacity * stem.outputSize)
        pooled = arena.reserve(batchCapacity * channels)
        pooledGrad = arena.reserve(batchCapacity * channels)
        logits = arena.reserve(batchCapacity * architecture.classes)
        logitsGrad = arena.reserve(batchCapacity * architecture.classes)
        let largest = ([stem.outputSize] + blocks.map(\.outputSize)).max()!
        gradients = (0..<3).map { _ in arena.reserve(batchCapacity * largest) }
        labels = .allocate(capacity: batchCapacity)
        labels.initialize(repeating: 0, count: batchCapacity)
        context.allocate()
    }

    deinit {
        labels.deallocate()
    }

    public var store: ParameterStore { context.store }
    public var batchCapacity: Int { context.batchCapacity }
    public var threads: Int { context.threads }

    /// When set, every layer records its time (the bench's breakdown).
    public var profile: StepProfile? {
        get { context.profile }
        set { context.profile = newValue }
    }

    /// Where the caller writes the batch: images [batch, 3, size, size] float32, normalised.
    public var inputImages: UnsafeMutablePointer<Float> { context.arena[input] }
    /// Where the caller writes the batch's labels.
    public var inputLabels: UnsafeMutablePointer<Int32> { labels }

    var convLayers: [ConvBN] { [stem] + blocks.flatMap(\.layers) }

    /// He initialisation for every conv, BN weight 1 / bias 0, PyTorch's default for the fc
    /// (uniform in ±1/sqrt(fan_in) for weight and bias), from `seed` alone.
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed, stream: RandomStream.initialization.rawValue)
        for layer in convLayers { layer.initialize(&rng) }
        let bound = 1 / Float(classifier.inFeatures).squareRoot()
        let w = context.parameter(fcWeight)
        let b = context.parameter(fcBias)
        for i in 0..<classifier.weightCount { w[i] = (2 * rng.nextUnitFloat() - 1) * bound }
        for i in 0..<classifier.outFeatures { b[i] = (2 * rng.nextUnitFloat() - 1) * bound }
        store.momentum.update(repeating: 0, count: store.parameterCount)
    }

    /// Forward pass over the first `batch` images of `inputImages`; returns the logits.
    /// `statistics` sums batch-norm statistics over the replicas (synchronised batch norm). A batch of
    /// 0 images (a data-parallel rank with nothing in a short last batch) runs every layer, and every
    /// exchange with the replicas, on nothing.
    @discardableResult
    public func forward(batch: Int, training: Bool, statistics: StatisticsReducer? = nil) throws -> UnsafePointer<Float> {
        precondition(batch >= 0 && batch <= batchCapacity)
        let a = context.arena
        try stem.forward(
            input: a[input], output: a[stemOutput], batch: batch, training: training, relu: true, statistics: statistics)
        var x = a[stemOutput]
        if let stemPool {
            stemPool.pool.forward(input: x, output: a[stemPool.output], argmax: stemPool.argmax, batch: batch)
            x = a[stemPool.output]
        }
        for block in blocks {
            try block.forward(input: x, batch: batch, training: training, statistics: statistics)
            x = a[block.output]
        }
        let last = blocks.last!
        context.profile.measure(.head) {
            GlobalAveragePool.forward(
                input: x, output: a[pooled], batch: batch,
                channels: classifier.inFeatures, spatial: last.outSize.0 * last.outSize.1)
            classifier.forward(
                input: a[pooled], weight: context.parameter(fcWeight), bias: context.parameter(fcBias),
                output: a[logits], batch: batch)
        }
        return UnsafePointer(a[logits])
    }

    /// Backward from `logitsGrad`, writing every parameter gradient (overwriting the old ones), and
    /// telling `replicas` as each block's gradients become final.
    func backward(batch: Int, replicas: ReplicaLink?) throws {
        let statistics = replicas?.statisticsReducer
        let a = context.arena
        let last = blocks.last!
        // The gradient of the current block's output and of its input, swapped after each block.
        var outputGrad = a[gradients[0]]
        var inputGrad = a[gradients[1]]
        let scratch = a[gradients[2]]
        context.profile.measure(.head) {
            classifier.backward(
                input: a[pooled], weight: context.parameter(fcWeight), outputGrad: a[logitsGrad],
                inputGrad: a[pooledGrad], weightGrad: context.gradient(fcWeight),
                biasGrad: context.gradient(fcBias), batch: batch)
            GlobalAveragePool.backward(
                outputGrad: a[pooledGrad], inputGrad: outputGrad, batch: batch,
                channels: classifier.inFeatures, spatial: last.outSize.0 * last.outSize.1)
        }
        try replicas?.gradientsReady(from: fcWeight)
        let stemResult = a[stemPool?.output ?? stemOutput]
        for i in stride(from: blocks.count - 1, through: 0, by: -1) {
            let blockInput = i > 0 ? a[blocks[i - 1].output] : stemResult
            try blocks[i].backward(
                input: blockInput, outputGrad: outputGrad, inputGrad: inputGrad, scratch: scratch, batch: batch,
                statistics: statistics)
            swap(&outputGrad, &inputGrad)
            try replicas?.gradientsReady(from: blocks[i].conv1.weightOffset)
        }
        if let stemPool {
            stemPool.pool.backward(outputGrad: outputGrad, argmax: stemPool.argmax, inputGrad: inputGrad, batch: batch)
            swap(&outputGrad, &inputGrad)
        }
        try stem.backward(
            input: a[input], outputGrad: outputGrad, reluOutput: a[stemOutput], inputGrad: nil, accumulate: false,
            batch: batch, statistics: statistics)
        try replicas?.gradientsReady(from: 0)
    }

    /// One forward and backward pass in training mode on the first `batch` images and labels.
    /// The loss is `sum of cross-entropies * gradScale` (use 1/global batch for a mean over all
    /// replicas). Returns the summed loss and the number of correct predictions, unscaled.
    /// `replicas`, handed in for this step only, hears as gradients become final and sums the
    /// batch-norm statistics when it synchronises them. `batch` may be 0: the gradients are then 0,
    /// and the replicas hear and are asked exactly what a rank with images would tell and ask.
    @discardableResult
    public func trainStep(batch: Int, gradScale: Float, replicas: ReplicaLink? = nil) throws -> (
        lossSum: Double, correct: Int
    ) {
        try forward(batch: batch, training: true, statistics: replicas?.statisticsReducer)
        let result = SoftmaxCrossEntropy.forwardBackward(
            logits: context.arena[logits], labels: labels, batch: batch, classes: architecture.classes,
            logitsGrad: context.arena[logitsGrad], gradScale: gradScale)
        try backward(batch: batch, replicas: replicas)
        return result
    }

    /// Eval-mode forward (running BN statistics): summed loss and correct count.
    public func evaluate(batch: Int) throws -> (lossSum: Double, correct: Int) {
        try forward(batch: batch, training: false)
        return SoftmaxCrossEntropy.forwardBackward(
            logits: context.arena[logits], labels: labels, batch: batch, classes: architecture.classes,
            logitsGrad: nil, gradScale: 0)
    }

    /// Trainable parameters.
    public var parameterCount: Int { store.parameterCount }
    /// Multiply-adds of one forward pass for one image (convolutions and fc).
    public var macsPerImage: Int { convLayers.reduce(0) { $0 + $1.conv.macsPerImage } + classifier.weightCount }
    /// Weighted layers on the main path (convs and fc; option-B projections not counted).
    public var weightedLayers: Int { 1 + 2 * blocks.count + 1 }
    /// Bytes of activation storage per image (the arena over the batch capacity).
    public var activationBytesPerImage: Int { context.arena.count * 4 / batchCapacity }
}
