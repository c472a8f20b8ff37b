import Kernels

/// A ResNet's head: global average pooling and the fully connected layer (`fc`), whose output is
/// the logits.
final class ClassifierHead: Layer {
    let classifier: Linear
    let weightOffset: Int, biasOffset: Int
    /// Spatial size of the last block's output, pooled to one value per channel.
    let spatial: Int
    /// Arena slices: the pooled features and their gradient, and the logits (`output`).
    let pooled: Int, pooledGrad: Int, output: Int
    unowned let context: NetworkContext

    init(_ context: NetworkContext, channels: Int, spatial: Int, classes: Int) {
        self.context = context
        self.spatial = spatial
        classifier = Linear(inFeatures: channels, outFeatures: classes)
        weightOffset = context.store.addParameter("fc.weight", shape: [classes, channels])
        biasOffset = context.store.addParameter("fc.bias", shape: [classes])
        let arena = context.arena
        pooled = arena.reserve(context.batchCapacity * channels)
        pooledGrad = arena.reserve(context.batchCapacity * channels)
        output = arena.reserve(context.batchCapacity * classes)
    }

    var outputSize: Int { classifier.outFeatures }
    var firstParameter: Int? { weightOffset }
    var macsPerImage: Int { classifier.weightCount }

    /// PyTorch's default for a Linear: weight and bias uniform in ±1/sqrt(fan_in).
    func initialize(_ rng: inout SplitMix64) {
        let bound = 1 / Float(classifier.inFeatures).squareRoot()
        let w = context.parameter(weightOffset)
        let b = context.parameter(biasOffset)
        for i in 0..<classifier.weightCount { w[i] = (2 * rng.nextUnitFloat() - 1) * bound }
        for i in 0..<classifier.outFeatures { b[i] = (2 * rng.nextUnitFloat() - 1) * bound }
    }

    func forward(input: UnsafePointer<Float>, batch: Int, training: Bool, statistics: StatisticsReducer?) throws {
        let a = context.arena
        context.profile.measure(.head) {
            GlobalAveragePool.forward(
                input: input, output: a[pooled], batch: batch, channels: classifier.inFeatures, spatial: spatial)
            classifier.forward(
                input: a[pooled], weight: context.parameter(weightOffset), bias: context.parameter(biasOffset),
                output: a[output], batch: batch)
        }
    }

    func backward(
        input: UnsafePointer<Float>, outputGrad: UnsafeMutablePointer<Float>, inputGrad: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>, batch: Int, replicas: ReplicaLink?
    ) throws {
        let a = context.arena
        context.profile.measure(.head) {
            classifier.backward(
                input: a[pooled], weight: context.parameter(weightOffset), outputGrad: outputGrad,
                inputGrad: a[pooledGrad], weightGrad: context.gradient(weightOffset),
                biasGrad: context.gradient(biasOffset), batch: batch)
            if let inputGrad {
                GlobalAveragePool.backward(
                    outputGrad: a[pooledGrad], inputGrad: inputGrad, batch: batch, channels: classifier.inFeatures,
                    spatial: spatial)
            }
        }
    }
}

/// One of VGG's fully connected layers (`classifier.{0,3,6}`), with ReLU after all but the last.
final class DenseLayer: Layer {
    let linear: Linear
    let weightOffset: Int, biasOffset: Int
    let relu: Bool
    let output: Int
    unowned let context: NetworkContext

    init(_ context: NetworkContext, name: String, inFeatures: Int, outFeatures: Int, relu: Bool) {
        self.context = context
        self.relu = relu
        linear = Linear(inFeatures: inFeatures, outFeatures: outFeatures)
        weightOffset = context.store.addParameter("\(name).weight", shape: [outFeatures, inFeatures])
        biasOffset = context.store.addParameter("\(name).bias", shape: [outFeatures])
        output = context.arena.reserve(context.batchCapacity * outFeatures)
    }

    var outputSize: Int { linear.outFeatures }
    var firstParameter: Int? { weightOffset }
    var macsPerImage: Int { linear.weightCount }

    /// torchvision's VGG initialisation: weight N(0, 0.01), bias 0.
    func initialize(_ rng: inout SplitMix64) {
        let w = context.parameter(weightOffset)
        for i in 0..<linear.weightCount { w[i] = rng.nextNormal() * 0.01 }
        context.parameter(biasOffset).update(repeating: 0, count: linear.outFeatures)
    }

    func forward(input: UnsafePointer<Float>, batch: Int, training: Bool, statistics: StatisticsReducer?) throws {
        let y = context.arena[output]
        linear.forward(
            input: input, weight: context.parameter(weightOffset), bias: context.parameter(biasOffset), output: y,
            batch: batch)
        if relu { ReLU.forward(input: y, output: y, count: batch * outputSize, threads: context.threads) }
    }

    func backward(
        input: UnsafePointer<Float>, outputGrad: UnsafeMutablePointer<Float>, inputGrad: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>, batch: Int, replicas: ReplicaLink?
    ) throws {
        if relu {
            ReLU.backward(
                output: context.arena[output], outputGrad: outputGrad, inputGrad: outputGrad,
                count: batch * outputSize, threads: context.threads)
        }
        // The first layer of a network never needs its input's gradient; a dense layer is never first.
        linear.backward(
            input: input, weight: context.parameter(weightOffset), outputGrad: outputGrad, inputGrad: inputGrad!,
            weightGrad: context.gradient(weightOffset), biasGrad: context.gradient(biasOffset), batch: batch)
    }
}
