import Kernels

/// VGG-19 (Simonyan and Zisserman), the paper's reference point in Figure 3, as torchvision builds
/// it: sixteen 3x3 convolutions with bias (each optionally followed by BN) and ReLU, five 2x2 max
/// pools, then fc 25088-4096-4096-1000 with ReLU, on 224x224 inputs. torchvision's parameter names
/// (`features.{i}.weight`, `classifier.{0,3,6}.*`). Built from the ResNets' pieces: `ConvBN`
/// layers (with a bias, BN optional) and `MaxPoolLayer`s. Its two dropout layers are left out
/// (they hold no parameters; training VGG here is for counts and speed, not accuracy).
public final class VGG {
    /// Widths of the convolutions; nil is a 2x2/2 max pool.
    public static let configuration19: [Int?] = [
        64, 64, nil, 128, 128, nil, 256, 256, 256, 256, nil,
        512, 512, 512, 512, nil, 512, 512, 512, 512, nil,
    ]
    public static let inputSize = 224

    enum Layer {
        /// A conv (+ BN) + ReLU and the arena slice of its output.
        case conv(ConvBN, output: Int)
        case pool(MaxPoolLayer)

        var output: Int {
            switch self {
            case .conv(_, let output): output
            case .pool(let pool): pool.output
            }
        }
    }

    /// A fully connected layer of the classifier and its arena output.
    struct Dense {
        let layer: Linear
        let weightOffset: Int, biasOffset: Int, output: Int
    }

    let context: NetworkContext
    let layers: [Layer]
    let classifier: [Dense]
    let input: Int, logitsGrad: Int, gradients: [Int]
    let labels: UnsafeMutablePointer<Int32>
    public let batchNorm: Bool

    public init(batchNorm: Bool, batchCapacity: Int, classes: Int = 1000) {
        self.batchNorm = batchNorm
        let context = NetworkContext(batchCapacity: batchCapacity, threads: 1)
        self.context = context
        let store = context.store
        let arena = context.arena
        var layers: [Layer] = []
        var channels = 3
        var size = Self.inputSize
        var index = 0
        var largest = 3 * size * size
        input = arena.reserve(batchCapacity * largest)
        for width in Self.configuration19 {
            if let width {
                let layer = ConvBN(
                    context, convName: "features.\(index)", bnName: "features.\(index + 1)",
                    inChannels: channels, outChannels: width, kernelSize: 3, stride: 1,
                    inSize: (size, size), bias: true, batchNorm: batchNorm)
                layers.append(.conv(layer, output: arena.reserve(batchCapacity * layer.outputSize)))
                largest = max(largest, layer.outputSize)
                channels = width
                index += batchNorm ? 3 : 2
            } else {
                let pool = MaxPoolLayer(
                    context, channels: channels, inSize: (size, size), kernelSize: 2, stride: 2, padding: 0)
                layers.append(.pool(pool))
                size = pool.outSize.0
                index += 1
            }
        }
        self.layers = layers
        var features = channels * size * size  // 512 * 7 * 7 (the adaptive pool is the identity at 224)
        var classifier: [Dense] = []
        for (i, width) in [4096, 4096, classes].enumerated() {
            classifier.append(
                Dense(
                    layer: Linear(inFeatures: features, outFeatures: width),
                    weightOffset: store.addParameter("classifier.\(3 * i).weight", shape: [width, features]),
                    biasOffset: store.addParameter("classifier.\(3 * i).bias", shape: [width]),
                    output: arena.reserve(batchCapacity * width)))
            features = width
            largest = max(largest, width)
        }
        self.classifier = classifier
        logitsGrad = arena.reserve(batchCapacity * classes)
        gradients = (0..<2).map { _ in arena.reserve(batchCapacity * largest) }
        labels = .allocate(capacity: batchCapacity)
        labels.initialize(repeating: 0, count: batchCapacity)
        context.allocate()
    }

    deinit { labels.deallocate() }

    public var store: ParameterStore { context.store }
    public var parameterCount: Int { store.parameterCount }
    public var inputImages: UnsafeMutablePointer<Float> { context.arena[input] }
    public var inputLabels: UnsafeMutablePointer<Int32> { labels }
    public var imageFloats: Int { 3 * Self.inputSize * Self.inputSize }
    /// Multiply-adds of one forward pass for one image (convolutions and fc).
    public var macsPerImage: Int {
        layers.reduce(0) { total, layer in
            if case .conv(let conv, _) = layer { return total + conv.conv.macsPerImage }
            return total
        } + classifier.reduce(0) { $0 + $1.layer.weightCount }
    }

    /// torchvision's initialisation: Kaiming normal (fan-out) convs with zero bias, BN 1/0,
    /// fc weights N(0, 0.01) with zero bias.
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed, stream: RandomStream.initialization.rawValue)
        store.values.update(repeating: 0, count: store.parameterCount)
        for case .conv(let layer, _) in layers { layer.initialize(&rng) }
        for dense in classifier {
            let w = context.parameter(dense.weightOffset)
            for i in 0..<dense.layer.weightCount { w[i] = rng.nextNormal() * 0.01 }
        }
    }

    /// One training step (training-mode BN) on the first `batch` images; returns the summed loss.
    @discardableResult
    public func trainStep(batch: Int, gradScale: Float) throws -> Double {
        let c = context
        let a = c.arena
        // Forward: features, then the classifier (ReLU between its layers).
        var x = a[input]
        for layer in layers {
            switch layer {
            case .conv(let conv, let output):
                try conv.forward(input: x, output: a[output], batch: batch, training: true, relu: true)
            case .pool(let pool):
                pool.pool.forward(input: x, output: a[pool.output], argmax: pool.argmax, batch: batch)
            }
            x = a[layer.output]
        }
        let features = x
        for (i, dense) in classifier.enumerated() {
            dense.layer.forward(
                input: x, weight: c.parameter(dense.weightOffset), bias: c.parameter(dense.biasOffset),
                output: a[dense.output], batch: batch)
            if i < classifier.count - 1 {
                ReLU.forward(input: a[dense.output], output: a[dense.output], count: batch * dense.layer.outFeatures)
            }
            x = a[dense.output]
        }
        let (loss, _) = SoftmaxCrossEntropy.forwardBackward(
            logits: x, labels: labels, batch: batch,
            classes: classifier.last!.layer.outFeatures,
            logitsGrad: a[logitsGrad], gradScale: gradScale)
        // Backward: the gradient of the current layer's output (dy) and of its input (dx), swapped.
        var dy = a[logitsGrad]
        var dx = a[gradients[0]]
        var spare = a[gradients[1]]
        for i in stride(from: classifier.count - 1, through: 0, by: -1) {
            let dense = classifier[i]
            if i < classifier.count - 1 {
                ReLU.backward(
                    output: a[dense.output], outputGrad: dy, inputGrad: dy, count: batch * dense.layer.outFeatures)
            }
            let layerInput = i > 0 ? a[classifier[i - 1].output] : features
            dense.layer.backward(
                input: layerInput, weight: c.parameter(dense.weightOffset), outputGrad: dy,
                inputGrad: dx, weightGrad: c.gradient(dense.weightOffset),
                biasGrad: c.gradient(dense.biasOffset), batch: batch)
            dy = dx
            swap(&dx, &spare)
        }
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let layerInput = i > 0 ? a[layers[i - 1].output] : a[input]
            switch layers[i] {
            case .conv(let conv, let output):
                try conv.backward(
                    input: layerInput, outputGrad: dy, reluOutput: a[output], inputGrad: i > 0 ? dx : nil,
                    accumulate: false, batch: batch)
            case .pool(let pool):
                pool.pool.backward(outputGrad: dy, argmax: pool.argmax, inputGrad: dx, batch: batch)
            }
            dy = dx
            swap(&dx, &spare)
        }
        return loss
    }
}
