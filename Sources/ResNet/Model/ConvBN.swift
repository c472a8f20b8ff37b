import Kernels

/// A convolution followed by batch normalisation and, optionally, ReLU: the unit every layer of the
/// paper's networks is made of ("BN right after each convolution and before activation").
/// Keeps the convolution's output (pre-BN) of the last forward pass for the backward pass.
final class ConvBN {
    let conv: Convolution
    let norm: BatchNorm
    /// Offsets of the layer's tensors in the parameter store (weights, BN scale and shift) and
    /// its buffers (BN running statistics).
    let weightOffset: Int, gammaOffset: Int, betaOffset: Int, runningMeanOffset: Int, runningVarOffset: Int
    /// Arena slices: conv output [batch, Cout, Hout, Wout], saved mean and 1/std [Cout].
    let convOutput: Int, savedMean: Int, savedInvStd: Int
    unowned let context: NetworkContext

    /// `convName` and `bnName` are the torchvision prefixes, e.g. `layer1.0.conv1` and `layer1.0.bn1`.
    init(_ context: NetworkContext, convName: String, bnName: String,
         inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int, inSize: (Int, Int)) {
        self.context = context
        conv = Convolution(inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize,
                           stride: stride, padding: kernelSize / 2, inHeight: inSize.0, inWidth: inSize.1,
                           algorithm: context.convolution)
        norm = BatchNorm(channels: outChannels, spatial: conv.outPixels)
        let store = context.store
        weightOffset = store.addParameter("\(convName).weight", shape: [outChannels, inChannels, kernelSize, kernelSize])
        gammaOffset = store.addParameter("\(bnName).weight", shape: [outChannels])
        betaOffset = store.addParameter("\(bnName).bias", shape: [outChannels])
        runningMeanOffset = store.addBuffer("\(bnName).running_mean", shape: [outChannels])
        runningVarOffset = store.addBuffer("\(bnName).running_var", shape: [outChannels])
        convOutput = context.arena.reserve(context.batchCapacity * conv.outputSize)
        savedMean = context.arena.reserve(outChannels)
        savedInvStd = context.arena.reserve(outChannels)
        context.requireWorkspace(conv.workspaceCount(threads: context.threads))
        context.requireStatistics(norm.scratchCount)
    }

    var outputSize: Int { conv.outputSize }
    var outSize: (Int, Int) { (conv.outHeight, conv.outWidth) }

    /// He initialisation (Kaiming normal, fan-out) for the conv; BN weight 1, bias 0, running mean 0, var 1.
    func initialize(_ rng: inout SplitMix64) {
        let std = (2.0 / Float(conv.outChannels * conv.kernelSize * conv.kernelSize)).squareRoot()
        let w = context.parameter(weightOffset)
        for i in 0..<conv.weightCount { w[i] = rng.nextNormal() * std }
        context.parameter(gammaOffset).update(repeating: 1, count: norm.channels)
        context.parameter(betaOffset).update(repeating: 0, count: norm.channels)
        context.buffer(runningMeanOffset).update(repeating: 0, count: norm.channels)
        context.buffer(runningVarOffset).update(repeating: 1, count: norm.channels)
    }

    /// `output = [relu](bn(conv(input)))`; input [batch, Cin, H, W], output [batch, Cout, Hout, Wout].
    func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int,
                 training: Bool, relu: Bool) throws {
        let c = context, y = c.arena[convOutput]
        let flops = 2 * Double(conv.macsPerImage * batch)
        c.profile.measure(.convForward, flops: flops) {
            conv.forward(input: input, weight: c.parameter(weightOffset), output: y, batch: batch,
                         threads: c.threads, workspace: c.workspace)
        }
        try c.profile.measure(.batchNorm) {
            if training {
                try norm.forwardTraining(input: y, output: output, batch: batch,
                                     gamma: c.parameter(gammaOffset), beta: c.parameter(betaOffset),
                                     savedMean: c.arena[savedMean], savedInvStd: c.arena[savedInvStd],
                                     runningMean: c.buffer(runningMeanOffset), runningVar: c.buffer(runningVarOffset),
                                     scratch: c.statistics, reduce: c.statisticsReducer, relu: relu,
                                     threads: c.threads)
            } else {
                norm.forwardInference(input: y, output: output, batch: batch,
                                      gamma: c.parameter(gammaOffset), beta: c.parameter(betaOffset),
                                      runningMean: c.buffer(runningMeanOffset), runningVar: c.buffer(runningVarOffset), relu: relu,
                                      threads: c.threads)
            }
        }
    }

    /// Backward from the gradient of this layer's output. When the forward pass applied ReLU,
    /// pass its `output` as `reluOutput` and the mask is applied here (fused with BN's backward).
    /// `outputGrad` is overwritten (used in place as the conv-output gradient). Writes the
    /// parameter gradients, and `inputGrad` unless it is nil (the first layer needs none).
    func backward(input: UnsafePointer<Float>, outputGrad: UnsafeMutablePointer<Float>,
                  reluOutput: UnsafePointer<Float>? = nil,
                  inputGrad: UnsafeMutablePointer<Float>?, accumulate: Bool, batch: Int) throws {
        let c = context
        let flops = 2 * Double(conv.macsPerImage * batch)
        try c.profile.measure(.batchNorm) {
            try norm.backward(input: c.arena[convOutput], outputGrad: outputGrad, inputGrad: outputGrad, batch: batch,
                          gamma: c.parameter(gammaOffset), savedMean: c.arena[savedMean], savedInvStd: c.arena[savedInvStd],
                          gammaGrad: c.gradient(gammaOffset), betaGrad: c.gradient(betaOffset),
                          scratch: c.statistics, reduce: c.statisticsReducer, reluOutput: reluOutput,
                          threads: c.threads)
        }
        c.profile.measure(.convBackwardWeights, flops: flops) {
            conv.backwardWeights(input: input, outputGrad: outputGrad, weightGrad: c.gradient(weightOffset), batch: batch,
                                 threads: c.threads, workspace: c.workspace)
        }
        if let inputGrad {
            c.profile.measure(.convBackwardData, flops: flops) {
                conv.backwardData(outputGrad: outputGrad, weight: c.parameter(weightOffset), inputGrad: inputGrad,
                                  batch: batch, accumulate: accumulate, threads: c.threads, workspace: c.workspace)
            }
        }
    }
}
