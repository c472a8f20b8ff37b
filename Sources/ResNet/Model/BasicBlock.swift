import Kernels

/// The paper's shortcut options where a block changes shape (on blocks that keep the shape,
/// both are the identity).
public enum ShortcutOption: String, Sendable, CaseIterable, Codable {
    /// Option A: identity, subsampled and zero-padded in channels; no parameters.
    case A
    /// Option B: 1x1 convolution + BN projection.
    case B
}

/// How a block's input reaches its output: the shortcut connection of Fig. 2.
enum ShortcutPath {
    /// A plain network's block: no shortcut.
    case none
    case identity
    /// Option A where the shape changes.
    case paddedIdentity(PaddedIdentity)
    /// Option B where the shape changes: the 1x1 conv + BN and the arena slice of its output.
    case projection(ConvBN, output: Int)
}

/// Two 3x3 conv-BN layers with ReLU between and after, plus the shortcut (He et al., Fig. 2):
/// `out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.
final class BasicBlock {
    let conv1: ConvBN
    let conv2: ConvBN
    let shortcut: ShortcutPath
    /// Arena slices: relu(bn1(conv1 x)) and the block output.
    let hidden: Int, output: Int
    unowned let context: NetworkContext

    init(
        _ context: NetworkContext, name: String, inChannels: Int, outChannels: Int, stride: Int,
        inSize: (Int, Int), residual: Bool, option: ShortcutOption
    ) {
        self.context = context
        conv1 = ConvBN(
            context, convName: "\(name).conv1", bnName: "\(name).bn1", inChannels: inChannels,
            outChannels: outChannels, kernelSize: 3, stride: stride, inSize: inSize)
        conv2 = ConvBN(
            context, convName: "\(name).conv2", bnName: "\(name).bn2", inChannels: outChannels,
            outChannels: outChannels, kernelSize: 3, stride: 1, inSize: conv1.outSize)
        let reshapes = stride != 1 || inChannels != outChannels
        if !residual {
            shortcut = .none
        } else if !reshapes {
            shortcut = .identity
        } else if option == .A {
            shortcut = .paddedIdentity(
                PaddedIdentity(
                    inChannels: inChannels, outChannels: outChannels,
                    inHeight: inSize.0, inWidth: inSize.1, stride: stride))
        } else {
            let projection = ConvBN(
                context, convName: "\(name).downsample.0", bnName: "\(name).downsample.1",
                inChannels: inChannels, outChannels: outChannels, kernelSize: 1,
                stride: stride, inSize: inSize)
            shortcut = .projection(
                projection, output: context.arena.reserve(context.batchCapacity * projection.outputSize))
        }
        hidden = context.arena.reserve(context.batchCapacity * conv1.outputSize)
        output = context.arena.reserve(context.batchCapacity * conv2.outputSize)
    }

    var outputSize: Int { conv2.outputSize }
    var outSize: (Int, Int) { conv2.outSize }
    var layers: [ConvBN] {
        if case .projection(let p, _) = shortcut { return [conv1, conv2, p] }
        return [conv1, conv2]
    }

    /// `statistics`: the replicas' batch-norm sums (synchronised batch norm), or nil.
    func forward(input: UnsafePointer<Float>, batch: Int, training: Bool, statistics: StatisticsReducer?) throws {
        let h = context.arena[hidden]
        let y = context.arena[output]
        try conv1.forward(input: input, output: h, batch: batch, training: training, relu: true, statistics: statistics)
        try conv2.forward(input: h, output: y, batch: batch, training: training, relu: false, statistics: statistics)
        let profile = context.profile
        let count = batch * outputSize
        let threads = context.threads
        // The shortcut addition and the block's final ReLU, fused into one pass where possible.
        try profile.measure(.shortcut) {
            switch shortcut {
            case .none: ReLU.forward(input: y, output: y, count: count, threads: threads)
            case .identity: ReLU.addForward(input, into: y, count: count, threads: threads)
            case .paddedIdentity(let pad):
                pad.addForward(input: input, output: y, batch: batch)
                ReLU.forward(input: y, output: y, count: count, threads: threads)
            case .projection(let projection, let output):
                let p = context.arena[output]
                try projection.forward(
                    input: input, output: p, batch: batch, training: training, relu: false, statistics: statistics)
                ReLU.addForward(p, into: y, count: count, threads: threads)
            }
        }
    }

    /// Backward. `outputGrad` (the gradient of this block's output) is destroyed; `inputGrad` receives
    /// the gradient of the input; `scratch` is a buffer as large as the largest activation.
    /// `replicas` hears when conv2's gradients (and the projection's, stored after them) are final:
    /// halfway through the block, a moment for the gradient all-reduce to move on (it advances only
    /// while the rank is inside MPI).
    func backward(
        input: UnsafePointer<Float>, outputGrad: UnsafeMutablePointer<Float>,
        inputGrad: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, batch: Int,
        replicas: ReplicaLink?
    ) throws {
        let statistics = replicas?.statisticsReducer
        let count = batch * outputSize
        let threads = context.threads
        let profile = context.profile
        var inputWritten = true
        // The final ReLU's mask, in place, and in the same pass the gradient down an identity shortcut.
        try profile.measure(.shortcut) {
            let y = context.arena[output]
            switch shortcut {
            case .none:
                inputWritten = false
                ReLU.backward(output: y, outputGrad: outputGrad, inputGrad: outputGrad, count: count, threads: threads)
            case .identity:
                ReLU.backward(
                    output: y, outputGrad: outputGrad, inputGrad: outputGrad, copy: inputGrad,
                    count: count, threads: threads)
            case .paddedIdentity(let pad):
                ReLU.backward(output: y, outputGrad: outputGrad, inputGrad: outputGrad, count: count, threads: threads)
                pad.backward(outputGrad: outputGrad, inputGrad: inputGrad, batch: batch, accumulate: false)
            case .projection(let projection, _):
                // The projection's BN works in place: give it its own copy of the gradient.
                ReLU.backward(
                    output: y, outputGrad: outputGrad, inputGrad: outputGrad, copy: scratch,
                    count: count, threads: threads)
                try projection.backward(
                    input: input, outputGrad: scratch, inputGrad: inputGrad, accumulate: false, batch: batch,
                    statistics: statistics)
            }
        }
        // conv2: BN backward in place on outputGrad, then the gradient of `hidden` into scratch.
        try conv2.backward(
            input: context.arena[hidden], outputGrad: outputGrad, inputGrad: scratch,
            accumulate: false, batch: batch, statistics: statistics)
        try replicas?.gradientsReady(from: conv2.weightOffset)
        try conv1.backward(
            input: input, outputGrad: scratch, reluOutput: context.arena[hidden], inputGrad: inputGrad,
            accumulate: inputWritten, batch: batch, statistics: statistics)
    }
}
