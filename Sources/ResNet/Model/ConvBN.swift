import Kernels

/// A convolution followed by batch normalisation and, optionally, ReLU: the unit every layer of the
/// paper's networks is made of ("BN right after each convolution and before activation"). VGG's
/// layers are the same unit with a conv bias, and without BN in plain VGG-19.
/// Keeps the convolution's output (pre-BN) of the last forward pass for the backward pass.
final class ConvBN {
    let conv: Convolution
    /// nil: no batch norm (plain VGG), the conv output goes straight to the ReLU.
    let norm: BatchNorm?
    /// Offsets of the conv's tensors in the parameter store; the bias only for VGG.
    let weightOffset: Int, biasOffset: Int?
    /// The batch norm's tensors, when there is one.
    let bn: BatchNormTensors?
    /// Arena slice of the conv output [batch, Cout, Hout, Wout] (with its bias).
    let convOutput: Int
    unowned let context: NetworkContext

    /// Offsets of one batch norm's scale and shift (parameters), running statistics (buffers) and
    /// saved mean and 1/std (arena).
    struct BatchNormTensors {
        let gammaOffset: Int, betaOffset: Int, runningMeanOffset: Int, runningVarOffset: Int
        /// One mean and 1/std per channel for each ghost-batch-norm group (one group without it).
        let savedMean: Int, savedInvStd: Int
        /// Ghost batch norm's per-channel scratch: a group's running statistics and the images'
        /// average of them; a group's scale and shift gradients.
        let groupScratch: Int
    }

    /// `convName` and `bnName` are the torchvision prefixes, e.g. `layer1.0.conv1` and `layer1.0.bn1`
    /// (VGG: `features.0` and `features.1`).
    init(
        _ context: NetworkContext, convName: String, bnName: String, inChannels: Int, outChannels: Int,
        kernelSize: Int, stride: Int, inSize: (Int, Int), bias: Bool = false, batchNorm: Bool = true
    ) {
        self.context = context
        conv = Convolution(
            inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize,
            stride: stride, padding: kernelSize / 2, inHeight: inSize.0, inWidth: inSize.1,
            algorithm: context.convolution)
        let store = context.store
        weightOffset = store.addParameter(
            "\(convName).weight", shape: [outChannels, inChannels, kernelSize, kernelSize])
        biasOffset = bias ? store.addParameter("\(convName).bias", shape: [outChannels]) : nil
        var parameters: (gamma: Int, beta: Int, mean: Int, variance: Int)?
        if batchNorm {
            parameters = (
                store.addParameter("\(bnName).weight", shape: [outChannels]),
                store.addParameter("\(bnName).bias", shape: [outChannels]),
                store.addBuffer("\(bnName).running_mean", shape: [outChannels]),
                store.addBuffer("\(bnName).running_var", shape: [outChannels])
            )
        }
        convOutput = context.arena.reserve(context.batchCapacity * conv.outputSize)
        if let parameters {
            let norm = BatchNorm(channels: outChannels, spatial: conv.outPixels)
            self.norm = norm
            let groups = context.batchNormGroup.map { (context.batchCapacity + $0 - 1) / $0 } ?? 1
            bn = BatchNormTensors(
                gammaOffset: parameters.gamma, betaOffset: parameters.beta,
                runningMeanOffset: parameters.mean, runningVarOffset: parameters.variance,
                savedMean: context.arena.reserve(outChannels * groups),
                savedInvStd: context.arena.reserve(outChannels * groups),
                groupScratch: context.arena.reserve(outChannels * (groups > 1 ? 6 : 0)))
            context.requireStatistics(norm.scratchCount(batch: context.batchCapacity))
        } else {
            norm = nil
            bn = nil
        }
        context.requireWorkspace(conv.workspaceCount(threads: context.threads, batch: context.batchCapacity))
    }

    var outputSize: Int { conv.outputSize }
    var outSize: (Int, Int) { (conv.outHeight, conv.outWidth) }

    /// He initialisation (Kaiming normal, fan-out) for the conv, bias 0; BN weight 1, bias 0,
    /// running mean 0, var 1.
    func initialize(_ rng: inout SplitMix64) {
        let std = (2.0 / Float(conv.outChannels * conv.kernelSize * conv.kernelSize)).squareRoot()
        let w = context.parameter(weightOffset)
        for i in 0..<conv.weightCount { w[i] = rng.nextNormal() * std }
        if let biasOffset { context.parameter(biasOffset).update(repeating: 0, count: conv.outChannels) }
        if let bn {
            context.parameter(bn.gammaOffset).update(repeating: 1, count: conv.outChannels)
            context.parameter(bn.betaOffset).update(repeating: 0, count: conv.outChannels)
            context.buffer(bn.runningMeanOffset).update(repeating: 0, count: conv.outChannels)
            context.buffer(bn.runningVarOffset).update(repeating: 1, count: conv.outChannels)
        }
    }

    /// Batch-norm weight 0 (Goyal et al.'s "zero γ" for a residual block's last layer).
    func zeroBatchNormWeight() {
        if let bn { context.parameter(bn.gammaOffset).update(repeating: 0, count: conv.outChannels) }
    }

    /// `output = [relu](bn(conv(input) [+ bias]))`; input [batch, Cin, H, W], output [batch, Cout, Hout, Wout].
    /// `statistics` sums the batch-norm statistics over the replicas (synchronised batch norm).
    func forward(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int,
        training: Bool, relu: Bool, statistics: StatisticsReducer? = nil
    ) throws {
        let c = context
        let y = c.arena[convOutput]
        let flops = 2 * Double(conv.macsPerImage * batch)
        c.profile.measure(.convForward, flops: flops, shape: conv.shapeDescription) {
            conv.forward(
                input: input, weight: c.parameter(weightOffset), output: y, batch: batch,
                threads: c.threads, workspace: c.workspace)
            if let biasOffset { conv.addBias(c.parameter(biasOffset), to: y, batch: batch) }
        }
        guard let norm, let bn else {
            if relu {
                ReLU.forward(input: y, output: output, count: batch * conv.outputSize)
            } else {
                output.update(from: y, count: batch * conv.outputSize)
            }
            return
        }
        try c.profile.measure(.batchNorm) {
            if training, let group = c.batchNormGroup, batch > group {
                try forwardInGroups(
                    norm, bn, input: y, output: output, batch: batch, group: group, relu: relu)
            } else if training {
                try norm.forwardTraining(
                    input: y, output: output, batch: batch,
                    gamma: c.parameter(bn.gammaOffset), beta: c.parameter(bn.betaOffset),
                    savedMean: c.arena[bn.savedMean], savedInvStd: c.arena[bn.savedInvStd],
                    runningMean: c.buffer(bn.runningMeanOffset),
                    runningVar: c.buffer(bn.runningVarOffset),
                    scratch: c.statistics, reduce: statistics, relu: relu,
                    threads: c.threads)
            } else {
                norm.forwardInference(
                    input: y, output: output, batch: batch,
                    gamma: c.parameter(bn.gammaOffset), beta: c.parameter(bn.betaOffset),
                    runningMean: c.buffer(bn.runningMeanOffset), runningVar: c.buffer(bn.runningVarOffset),
                    relu: relu, threads: c.threads)
            }
        }
    }

    /// Backward from the gradient of this layer's output. When the forward pass applied ReLU,
    /// pass its `output` as `reluOutput` and the mask is applied here (fused with BN's backward).
    /// `outputGrad` is overwritten (used in place as the conv-output gradient). Writes the
    /// parameter gradients, and `inputGrad` unless it is nil (the first layer needs none).
    func backward(
        input: UnsafePointer<Float>, outputGrad: UnsafeMutablePointer<Float>,
        reluOutput: UnsafePointer<Float>? = nil,
        inputGrad: UnsafeMutablePointer<Float>?, accumulate: Bool, batch: Int,
        statistics: StatisticsReducer? = nil
    ) throws {
        let c = context
        let flops = 2 * Double(conv.macsPerImage * batch)
        if let norm, let bn, let group = c.batchNormGroup, batch > group {
            try c.profile.measure(.batchNorm) {
                try backwardInGroups(
                    norm, bn, outputGrad: outputGrad, batch: batch, group: group, reluOutput: reluOutput)
            }
        } else if let norm, let bn {
            try c.profile.measure(.batchNorm) {
                try norm.backward(
                    input: c.arena[convOutput], outputGrad: outputGrad, inputGrad: outputGrad, batch: batch,
                    gamma: c.parameter(bn.gammaOffset), savedMean: c.arena[bn.savedMean],
                    savedInvStd: c.arena[bn.savedInvStd],
                    gammaGrad: c.gradient(bn.gammaOffset), betaGrad: c.gradient(bn.betaOffset),
                    scratch: c.statistics, reduce: statistics, reluOutput: reluOutput,
                    threads: c.threads)
            }
        } else if let reluOutput {
            ReLU.backward(
                output: reluOutput, outputGrad: outputGrad, inputGrad: outputGrad, count: batch * conv.outputSize)
        }
        c.profile.measure(.convBackwardWeights, flops: flops, shape: conv.shapeDescription) {
            if let biasOffset { conv.biasGradient(outputGrad, into: c.gradient(biasOffset), batch: batch) }
            conv.backwardWeights(
                input: input, outputGrad: outputGrad, weightGrad: c.gradient(weightOffset), batch: batch,
                threads: c.threads, workspace: c.workspace)
        }
        if let inputGrad {
            c.profile.measure(.convBackwardData, flops: flops, shape: conv.shapeDescription) {
                conv.backwardData(
                    outputGrad: outputGrad, weight: c.parameter(weightOffset), inputGrad: inputGrad,
                    batch: batch, accumulate: accumulate, threads: c.threads, workspace: c.workspace)
            }
        }
    }

    /// Ghost batch norm, forward: each group of `group` images normalised with its own statistics,
    /// as a rank holding just those images would; the running statistics become the images' average
    /// of each group's update (what averaging such ranks by their images gives).
    private func forwardInGroups(
        _ norm: BatchNorm, _ bn: BatchNormTensors, input y: UnsafeMutablePointer<Float>,
        output: UnsafeMutablePointer<Float>, batch: Int, group: Int, relu: Bool
    ) throws {
        let c = context
        let channels = conv.outChannels
        let perImage = conv.outputSize
        let scratch = c.arena[bn.groupScratch]
        let (groupMean, groupVar) = (scratch, scratch + channels)
        let (averageMean, averageVar) = (scratch + 2 * channels, scratch + 3 * channels)
        let runningMean = c.buffer(bn.runningMeanOffset)
        let runningVar = c.buffer(bn.runningVarOffset)
        averageMean.update(repeating: 0, count: channels)
        averageVar.update(repeating: 0, count: channels)
        for (index, first) in stride(from: 0, to: batch, by: group).enumerated() {
            let images = min(group, batch - first)
            groupMean.update(from: runningMean, count: channels)
            groupVar.update(from: runningVar, count: channels)
            try norm.forwardTraining(
                input: y + first * perImage, output: output + first * perImage, batch: images,
                gamma: c.parameter(bn.gammaOffset), beta: c.parameter(bn.betaOffset),
                savedMean: c.arena[bn.savedMean] + index * channels,
                savedInvStd: c.arena[bn.savedInvStd] + index * channels,
                runningMean: groupMean, runningVar: groupVar, scratch: c.statistics, reduce: nil, relu: relu,
                threads: c.threads)
            let weight = Float(images) / Float(batch)
            for ch in 0..<channels {
                averageMean[ch] += weight * groupMean[ch]
                averageVar[ch] += weight * groupVar[ch]
            }
        }
        runningMean.update(from: averageMean, count: channels)
        runningVar.update(from: averageVar, count: channels)
    }

    /// Ghost batch norm, backward: each group through its own statistics; the scale and shift
    /// gradients summed over the groups, as the ranks' all-reduce would sum them.
    private func backwardInGroups(
        _ norm: BatchNorm, _ bn: BatchNormTensors, outputGrad: UnsafeMutablePointer<Float>, batch: Int, group: Int,
        reluOutput: UnsafePointer<Float>?
    ) throws {
        let c = context
        let channels = conv.outChannels
        let perImage = conv.outputSize
        let scratch = c.arena[bn.groupScratch] + 4 * channels
        let (gammaGrad, betaGrad) = (c.gradient(bn.gammaOffset), c.gradient(bn.betaOffset))
        for (index, first) in stride(from: 0, to: batch, by: group).enumerated() {
            let images = min(group, batch - first)
            try norm.backward(
                input: c.arena[convOutput] + first * perImage, outputGrad: outputGrad + first * perImage,
                inputGrad: outputGrad + first * perImage, batch: images, gamma: c.parameter(bn.gammaOffset),
                savedMean: c.arena[bn.savedMean] + index * channels,
                savedInvStd: c.arena[bn.savedInvStd] + index * channels,
                gammaGrad: index == 0 ? gammaGrad : scratch, betaGrad: index == 0 ? betaGrad : scratch + channels,
                scratch: c.statistics, reduce: nil, reluOutput: reluOutput.map { $0 + first * perImage },
                threads: c.threads)
            if index > 0 {
                for ch in 0..<channels {
                    gammaGrad[ch] += scratch[ch]
                    betaGrad[ch] += scratch[channels + ch]
                }
            }
        }
    }
}
