import Kernels

/// What every network here shares (ResNets, plain nets, VGG): the input images and labels, a chain
/// of layers run forward in order and backward in reverse, the softmax cross-entropy loss, and the
/// replicas told as each layer's gradients become final (so the gradient buckets overlap backward).
final class LayerChain {
    let context: NetworkContext
    let layers: [Layer]
    /// Arena slices: the input images, the gradient of the logits, and two gradient buffers as large
    /// as the largest activation used in turn during backward, plus a third for the layers' scratch.
    let input: Int, logitsGrad: Int, gradients: [Int]
    let labels: UnsafeMutablePointer<Int32>
    let classes: Int

    /// `build` makes the layers on `context` (reserving their slices and registering their
    /// parameters); the last one's output is the logits. Allocates everything once they are built.
    init(context: NetworkContext, imageFloats: Int, build: () -> [Layer]) {
        self.context = context
        let arena = context.arena
        input = arena.reserve(context.batchCapacity * imageFloats)
        layers = build()
        classes = layers.last!.outputSize
        logitsGrad = arena.reserve(context.batchCapacity * classes)
        let largest = layers.map(\.outputSize).max()!
        gradients = (0..<3).map { _ in arena.reserve(context.batchCapacity * largest) }
        labels = .allocate(capacity: context.batchCapacity)
        labels.initialize(repeating: 0, count: context.batchCapacity)
        context.allocate()
    }

    deinit { labels.deallocate() }

    var logits: UnsafeMutablePointer<Float> { context.arena[layers.last!.output] }

    /// Every layer's parameters from `seed` alone, in forward order; momentum 0.
    func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed, stream: RandomStream.initialization.rawValue)
        for layer in layers { layer.initialize(&rng) }
        context.store.momentum.update(repeating: 0, count: context.store.parameterCount)
    }

    /// The forward pass over the first `batch` images. A batch of 0 images (a data-parallel rank
    /// with nothing in a short last batch) runs every layer, and every exchange with the replicas,
    /// on nothing.
    func forward(batch: Int, training: Bool, statistics: StatisticsReducer?) throws {
        precondition(batch >= 0 && batch <= context.batchCapacity)
        let a = context.arena
        var x = UnsafePointer(a[input])
        for layer in layers {
            try layer.forward(input: x, batch: batch, training: training, statistics: statistics)
            x = UnsafePointer(a[layer.output])
        }
    }

    /// Backward from `logitsGrad`, writing every parameter gradient (overwriting the old ones), and
    /// telling `replicas` as each layer's gradients become final.
    func backward(batch: Int, replicas: ReplicaLink?) throws {
        let a = context.arena
        // The gradient of the current layer's output, and where the gradient of its input goes.
        var outputGrad = a[logitsGrad]
        var inputGrad = a[gradients[0]]
        let spare = a[gradients[1]]
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let layerInput = UnsafePointer(a[i > 0 ? layers[i - 1].output : input])
            try layers[i].backward(
                input: layerInput, outputGrad: outputGrad, inputGrad: i > 0 ? inputGrad : nil,
                scratch: a[gradients[2]], batch: batch, replicas: replicas)
            if let first = layers[i].firstParameter { try replicas?.gradientsReady(from: first) }
            if i == layers.count - 1 {
                outputGrad = inputGrad
                inputGrad = spare
            } else {
                swap(&outputGrad, &inputGrad)
            }
        }
    }

    /// One forward and backward pass in training mode; returns the summed loss and the number of
    /// correct predictions, unscaled (the loss whose gradient is taken is scaled by `gradScale`).
    func trainStep(
        batch: Int, gradScale: Float, labelSmoothing: Float, replicas: ReplicaLink?
    ) throws -> (lossSum: Double, correct: Int) {
        try forward(batch: batch, training: true, statistics: replicas?.statisticsReducer)
        let result = SoftmaxCrossEntropy.forwardBackward(
            logits: logits, labels: labels, batch: batch, classes: classes,
            logitsGrad: context.arena[logitsGrad], gradScale: gradScale, labelSmoothing: labelSmoothing)
        try backward(batch: batch, replicas: replicas)
        return result
    }

    /// Eval-mode forward (running BN statistics): summed loss and correct count.
    func evaluate(batch: Int) throws -> (lossSum: Double, correct: Int) {
        try forward(batch: batch, training: false, statistics: nil)
        return SoftmaxCrossEntropy.forwardBackward(
            logits: logits, labels: labels, batch: batch, classes: classes, logitsGrad: nil, gradScale: 0)
    }

    /// Multiply-adds of one image's forward pass.
    var macsPerImage: Int { layers.reduce(0) { $0 + $1.macsPerImage } }
}
