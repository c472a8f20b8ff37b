import Kernels

/// VGG-19 (Simonyan and Zisserman), the paper's reference point in Figure 3, as torchvision builds
/// it: sixteen 3x3 convolutions with bias (each optionally followed by BN) and ReLU, five 2x2 max
/// pools, then fc 25088-4096-4096-1000 with ReLU, on 224x224 inputs. torchvision's parameter names
/// (`features.{i}.weight`, `classifier.{0,3,6}.*`). Its two dropout layers are left out (they hold
/// no parameters; training VGG here is for counts and speed, not accuracy).
public final class VGG {
    public static let configuration19: [Int?] = [64, 64, nil, 128, 128, nil, 256, 256, 256, 256, nil,
                                                 512, 512, 512, 512, nil, 512, 512, 512, 512, nil]
    public static let inputSize = 224

    enum Layer {
        case conv(Convolution, BatchNorm?, weight: Int, bias: Int, gamma: Int, beta: Int, mean: Int, variance: Int,
                  convOutput: Int, output: Int, savedMean: Int, savedInvStd: Int)
        case pool(MaxPool, output: Int, argmax: UnsafeMutablePointer<Int32>)
    }

    let context: NetworkContext
    let layers: [Layer]
    let fc: [(layer: Linear, weight: Int, bias: Int, output: Int)]
    let input: Int, logits: Int, logitsGrad: Int, gradients: [Int]
    let labels: UnsafeMutablePointer<Int32>
    public let batchNorm: Bool

    public init(batchNorm: Bool, batchCapacity: Int, classes: Int = 1000) {
        self.batchNorm = batchNorm
        let context = NetworkContext(batchCapacity: batchCapacity, threads: 1)
        self.context = context
        let store = context.store, arena = context.arena
        var layers: [Layer] = []
        var channels = 3, size = Self.inputSize, index = 0, largest = 3 * size * size
        input = arena.reserve(batchCapacity * largest)
        for width in Self.configuration19 {
            if let width {
                let conv = Convolution(inChannels: channels, outChannels: width, kernelSize: 3, stride: 1, padding: 1,
                                       inHeight: size, inWidth: size)
                let weight = store.addParameter("features.\(index).weight", shape: [width, channels, 3, 3])
                let bias = store.addParameter("features.\(index).bias", shape: [width])
                var norm: BatchNorm?, gamma = -1, beta = -1, mean = -1, variance = -1
                if batchNorm {
                    norm = BatchNorm(channels: width, spatial: size * size)
                    gamma = store.addParameter("features.\(index + 1).weight", shape: [width])
                    beta = store.addParameter("features.\(index + 1).bias", shape: [width])
                    mean = store.addBuffer("features.\(index + 1).running_mean", shape: [width])
                    variance = store.addBuffer("features.\(index + 1).running_var", shape: [width])
                    context.requireStatistics(norm!.scratchCount)
                }
                context.requireWorkspace(conv.workspaceCount(threads: 1))
                layers.append(.conv(conv, norm, weight: weight, bias: bias, gamma: gamma, beta: beta, mean: mean,
                                    variance: variance, convOutput: arena.reserve(batchCapacity * conv.outputSize),
                                    output: arena.reserve(batchCapacity * conv.outputSize),
                                    savedMean: arena.reserve(width), savedInvStd: arena.reserve(width)))
                largest = max(largest, conv.outputSize)
                channels = width
                index += batchNorm ? 3 : 2
            } else {
                let pool = MaxPool(channels: channels, inHeight: size, inWidth: size, kernelSize: 2, stride: 2, padding: 0)
                let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: batchCapacity * pool.outputSize)
                argmax.initialize(repeating: 0, count: batchCapacity * pool.outputSize)
                layers.append(.pool(pool, output: arena.reserve(batchCapacity * pool.outputSize), argmax: argmax))
                size /= 2
                index += 1
            }
        }
        self.layers = layers
        var features = channels * size * size // 512 * 7 * 7 (the adaptive pool is the identity at 224)
        var fc: [(Linear, Int, Int, Int)] = []
        for (i, width) in [4096, 4096, classes].enumerated() {
            let layer = Linear(inFeatures: features, outFeatures: width)
            fc.append((layer, store.addParameter("classifier.\(3 * i).weight", shape: [width, features]),
                       store.addParameter("classifier.\(3 * i).bias", shape: [width]),
                       arena.reserve(batchCapacity * width)))
            features = width
            largest = max(largest, width)
        }
        self.fc = fc
        logits = fc.last!.3
        logitsGrad = arena.reserve(batchCapacity * classes)
        gradients = (0..<2).map { _ in arena.reserve(batchCapacity * largest) }
        labels = .allocate(capacity: batchCapacity)
        labels.initialize(repeating: 0, count: batchCapacity)
        context.allocate()
    }

    deinit {
        labels.deallocate()
        for case .pool(_, _, let argmax) in layers { argmax.deallocate() }
    }

    public var store: ParameterStore { context.store }
    public var parameterCount: Int { store.parameterCount }
    public var inputImages: UnsafeMutablePointer<Float> { context.arena[input] }
    public var inputLabels: UnsafeMutablePointer<Int32> { labels }
    public var imageFloats: Int { 3 * Self.inputSize * Self.inputSize }
    /// Multiply-adds of one forward pass for one image (convolutions and fc).
    public var macsPerImage: Int {
        layers.reduce(0) { total, layer in
            if case .conv(let conv, _, _, _, _, _, _, _, _, _, _, _) = layer { return total + conv.macsPerImage }
            return total
        } + fc.reduce(0) { $0 + $1.layer.weightCount }
    }

    /// torchvision's initialisation: Kaiming normal (fan-out) convs with zero bias, BN 1/0,
    /// fc weights N(0, 0.01) with zero bias.
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed, stream: RandomStream.initialization.rawValue)
        store.values.update(repeating: 0, count: store.parameterCount)
        for case .conv(let conv, let norm, let weight, _, let gamma, _, _, let variance, _, _, _, _) in layers {
            let std = (2 / Float(conv.outChannels * 9)).squareRoot()
            for i in 0..<conv.weightCount { context.parameter(weight)[i] = rng.nextNormal() * std }
            if let norm {
                context.parameter(gamma).update(repeating: 1, count: norm.channels)
                context.buffer(variance).update(repeating: 1, count: norm.channels)
            }
        }
        for f in fc { for i in 0..<f.layer.weightCount { context.parameter(f.weight)[i] = rng.nextNormal() * 0.01 } }
    }

    /// One training step (training-mode BN) on the first `batch` images; returns the summed loss.
    @discardableResult
    public func trainStep(batch: Int, gradScale: Float) throws -> Double {
        let c = context, a = c.arena
        var x = UnsafeMutablePointer(a[input])
        var inputs: [UnsafeMutablePointer<Float>] = []
        for layer in layers {
            inputs.append(x)
            switch layer {
            case .conv(let conv, let norm, let weight, let bias, let gamma, let beta, let mean, let variance,
                       let convOutput, let output, let savedMean, let savedInvStd):
                conv.forward(input: x, weight: c.parameter(weight), output: a[convOutput], batch: batch,
                             threads: 1, workspace: c.workspace)
                addBias(a[convOutput], c.parameter(bias), batch: batch, channels: conv.outChannels, spatial: conv.outPixels)
                if let norm {
                    try norm.forwardTraining(input: a[convOutput], output: a[output], batch: batch, gamma: c.parameter(gamma),
                                         beta: c.parameter(beta), savedMean: a[savedMean], savedInvStd: a[savedInvStd],
                                         runningMean: c.buffer(mean), runningVar: c.buffer(variance),
                                         scratch: c.statistics, relu: true, threads: c.threads)
                } else {
                    ReLU.forward(input: a[convOutput], output: a[output], count: batch * conv.outputSize)
                }
                x = a[output]
            case .pool(let pool, let output, let argmax):
                pool.forward(input: x, output: a[output], argmax: argmax, batch: batch)
                x = a[output]
            }
        }
        var fcInputs: [UnsafeMutablePointer<Float>] = []
        for (i, f) in fc.enumerated() {
            fcInputs.append(x)
            f.layer.forward(input: x, weight: c.parameter(f.weight), bias: c.parameter(f.bias), output: a[f.output], batch: batch)
            if i < fc.count - 1 { ReLU.forward(input: a[f.output], output: a[f.output], count: batch * f.layer.outFeatures) }
            x = a[f.output]
        }
        let (loss, _) = SoftmaxCrossEntropy.forwardBackward(logits: a[logits], labels: labels, batch: batch,
                                                            classes: fc.last!.layer.outFeatures,
                                                            logitsGrad: a[logitsGrad], gradScale: gradScale)
        // Backward.
        var dy = a[logitsGrad], dx = a[gradients[0]], spare = a[gradients[1]]
        for i in stride(from: fc.count - 1, through: 0, by: -1) {
            let f = fc[i]
            if i < fc.count - 1 { ReLU.backward(output: a[f.output], outputGrad: dy, inputGrad: dy, count: batch * f.layer.outFeatures) }
            f.layer.backward(input: fcInputs[i], weight: c.parameter(f.weight), outputGrad: dy, inputGrad: dx,
                             weightGrad: c.gradient(f.weight), biasGrad: c.gradient(f.bias), batch: batch)
            dy = dx
            swap(&dx, &spare)
        }
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            switch layers[i] {
            case .conv(let conv, let norm, let weight, let bias, let gamma, let beta, _, _, let convOutput, let output,
                       let savedMean, let savedInvStd):
                if let norm {
                    try norm.backward(input: a[convOutput], outputGrad: dy, inputGrad: dy, batch: batch, gamma: c.parameter(gamma),
                                  savedMean: a[savedMean], savedInvStd: a[savedInvStd], gammaGrad: c.gradient(gamma),
                                  betaGrad: c.gradient(beta), scratch: c.statistics,
                                  reluOutput: a[output], threads: c.threads)
                } else {
                    ReLU.backward(output: a[output], outputGrad: dy, inputGrad: dy, count: batch * conv.outputSize)
                }
                biasGradient(dy, c.gradient(bias), batch: batch, channels: conv.outChannels, spatial: conv.outPixels)
                conv.backwardWeights(input: inputs[i], outputGrad: dy, weightGrad: c.gradient(weight), batch: batch,
                                     threads: 1, workspace: c.workspace)
                if i > 0 {
                    conv.backwardData(outputGrad: dy, weight: c.parameter(weight), inputGrad: dx, batch: batch,
                                      accumulate: false, threads: 1, workspace: c.workspace)
                }
            case .pool(let pool, _, let argmax):
                pool.backward(outputGrad: dy, argmax: argmax, inputGrad: dx, batch: batch)
            }
            dy = dx
            swap(&dx, &spare)
        }
        return loss
    }

    func addBias(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int) {
        for n in 0..<batch { for c in 0..<channels {
            let p = y + (n * channels + c) * spatial, b = bias[c]
            for i in 0..<spatial { p[i] += b }
        } }
    }

    func biasGradient(_ dy: UnsafePointer<Float>, _ grad: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int) {
        for c in 0..<channels {
            var s: Float = 0
            for n in 0..<batch { s += Vector.sum(dy + (n * channels + c) * spatial, spatial) }
            grad[c] = s
        }
    }
}
