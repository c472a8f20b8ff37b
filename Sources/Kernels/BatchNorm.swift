/// Sums per-channel statistics across replicas (synchronised batch norm).
public protocol StatisticsReducer: AnyObject {
    /// Replaces `statistics`, in place, by their sum over all replicas (the same bits on every one).
    func sumOverReplicas(_ statistics: UnsafeMutableBufferPointer<Double>) throws
}

/// Batch normalisation over float32 NCHW tensors, per channel, with PyTorch semantics:
/// training mode normalises with the batch mean and biased variance and updates running averages
/// with `momentum` (running variance with the unbiased variance); eval mode uses the running ones.
/// Optionally fused with the ReLU that follows it (forward) and its mask (backward).
public struct BatchNorm: Sendable, Equatable {
    public let channels: Int
    /// Pixels per channel and image, `H*W`.
    public let spatial: Int
    public let epsilon: Float
    public let momentum: Float

    public init(channels: Int, spatial: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) {
        self.channels = channels
        self.spatial = spatial
        self.epsilon = epsilon
        self.momentum = momentum
    }

    /// Doubles of scratch the training passes need (`scratch` arguments) for up to `batch` images:
    /// the per-channel sums, and each image's own sums when several threads share the work.
    public func scratchCount(batch: Int) -> Int { 3 * channels + 1 + 2 * channels * batch }

    /// Training forward: `output = [relu](gamma * (input - mean) / sqrt(var + eps) + beta)` with the
    /// batch's statistics, one pass for sum and sum of squares (per plane in float, across planes in
    /// double). Saves mean and 1/sqrt(var+eps) per channel for the backward pass; `output` must not
    /// alias `input` (the backward pass reads the input). With `reduce`, mean and variance are those
    /// of the whole global batch over all ranks. A batch of 0 images takes part in the reduction
    /// and, alone, leaves the running statistics unchanged.
    public func forwardTraining(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>,
        runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Double>, reduce: StatisticsReducer? = nil,
        relu: Bool = false, threads: Int = 1
    ) throws {
        let c = channels
        let hw = spatial
        let stride = c * hw
        perChannelSums(threads, batch, into: scratch, SumAndSquares(input: input, stride: stride, hw: hw))
        scratch[2 * c] = Double(batch * hw)
        if let reduce { try reduce.sumOverReplicas(UnsafeMutableBufferPointer(start: scratch, count: 2 * c + 1)) }
        let count = scratch[2 * c]
        guard count > 0 else {
            // No images here and none summed in from other replicas: nothing to normalise, and the
            // running statistics stay as they were.
            savedMean.update(repeating: 0, count: c)
            savedInvStd.update(repeating: 0, count: c)
            return
        }
        for ch in 0..<c {
            let mean = scratch[ch] / count
            let variance = max(scratch[c + ch] / count - mean * mean, 0)
            savedMean[ch] = Float(mean)
            savedInvStd[ch] = Float(1 / (variance + Double(epsilon)).squareRoot())
            let unbiased = count > 1 ? variance * count / (count - 1) : variance
            runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * Float(mean)
            runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * Float(unbiased)
        }
        let split = PlaneSplit(threads: threads, batch: batch, channels: c)
        parallelChunks(
            split.chunks,
            Normalise(
                split: split,
                input: input, output: output, gamma: gamma, beta: beta, mean: savedMean, invStd: savedInvStd,
                stride: stride, hw: hw, relu: relu))
    }

    /// Per channel, the sums over images of `plane(n, ch)`'s two float sums, in double, in image
    /// order, into `scratch[0..<c]` and `scratch[c..<2c]`. With at least as many images as threads,
    /// threads take contiguous runs of images, as the convolutions before and after do (so each reads
    /// what its own core wrote), each image's sums go to its own slot, and one pass adds the slots in
    /// image order; with fewer (a small shard), threads take runs of channels and add their images in
    /// order. Either way the same bits as one thread adding image after image.
    @inline(__always)
    func perChannelSums<Sums: PlaneSums>(
        _ threads: Int, _ batch: Int, into scratch: UnsafeMutablePointer<Double>, _ plane: Sums
    ) {
        let c = channels
        var region = plane
        if batch < threads {
            let chunks = min(threads, c)
            region.layout = SumsLayout(target: scratch, channels: c, batch: batch, chunks: chunks, byChannels: true)
            parallelChunks(chunks, region)
            return
        }
        let chunks = max(1, min(threads, batch))
        if chunks == 1 {
            for ch in 0..<c {
                scratch[ch] = 0
                scratch[c + ch] = 0
            }
            for n in 0..<batch {
                for ch in 0..<c {
                    let (s, q) = plane.sums(image: n, channel: ch)
                    scratch[ch] += Double(s)
                    scratch[c + ch] += Double(q)
                }
            }
            return
        }
        let slots = scratch + 3 * c + 1
        region.layout = SumsLayout(target: slots, channels: c, batch: batch, chunks: chunks, byChannels: false)
        parallelChunks(chunks, region)
        for ch in 0..<c {
            scratch[ch] = 0
            scratch[c + ch] = 0
        }
        for n in 0..<batch {
            let slot = slots + n * 2 * c
            for ch in 0..<c {
                scratch[ch] += slot[ch]
                scratch[c + ch] += slot[c + ch]
            }
        }
    }

    /// The planes split one part per thread: contiguous runs of images, as the convolutions split
    /// their work, or of channels when there are fewer images than threads. For the element-wise
    /// passes, whose outputs do not depend on the split.
    struct PlaneSplit {
        let batch: Int
        let channels: Int
        let chunks: Int
        let byChannels: Bool

        init(threads: Int, batch: Int, channels: Int) {
            self.batch = batch
            self.channels = channels
            byChannels = batch < threads
            chunks = byChannels ? min(threads, channels) : max(1, min(threads, batch))
        }

        /// The images and channels of chunk `t`.
        @inline(__always) func ranges(chunk t: Int) -> (images: Range<Int>, channels: Range<Int>) {
            byChannels
                ? (0..<batch, chunkRange(t, of: chunks, count: channels))
                : (chunkRange(t, of: chunks, count: batch), 0..<channels)
        }
    }

    /// Where `perChannelSums`' chunks put their sums: by channels, each chunk sums its channels over
    /// every image into `target[0..<2c]`; by images, each image's sums go to its own slot of `target`.
    struct SumsLayout {
        let target: UnsafeMutablePointer<Double>
        let channels: Int
        let batch: Int
        let chunks: Int
        let byChannels: Bool

        /// Chunk `t`'s sums of `plane`.
        @inline(__always) func sum<Sums: PlaneSums>(chunk t: Int, _ plane: Sums) {
            let c = channels
            if byChannels {
                for ch in chunkRange(t, of: chunks, count: c) {
                    target[ch] = 0
                    target[c + ch] = 0
                    for n in 0..<batch {
                        let (s, q) = plane.sums(image: n, channel: ch)
                        target[ch] += Double(s)
                        target[c + ch] += Double(q)
                    }
                }
            } else {
                for n in chunkRange(t, of: chunks, count: batch) {
                    for ch in 0..<c {
                        let (s, q) = plane.sums(image: n, channel: ch)
                        target[n * 2 * c + ch] = Double(s)
                        target[n * 2 * c + c + ch] = Double(q)
                    }
                }
            }
        }
    }

    /// Eval forward with the running statistics, optionally with ReLU. `output` may alias `input`.
    public func forwardInference(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>,
        relu: Bool = false, threads: Int = 1
    ) {
        let c = channels
        let hw = spatial
        let stride = c * hw
        let split = PlaneSplit(threads: threads, batch: batch, channels: c)
        parallelChunks(
            split.chunks,
            NormaliseWithRunningStatistics(
                split: split,
                input: input, output: output, gamma: gamma, beta: beta, runningMean: runningMean,
                runningVar: runningVar, epsilon: epsilon, stride: stride, hw: hw, relu: relu))
    }

    @inline(__always)
    static func affine(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
        _ scale: Float, _ shift: Float, _ relu: Bool
    ) {
        typealias L = Vector.Lanes
        let s = L(repeating: scale)
        let t = L(repeating: shift)
        let zero = L(repeating: 0)
        var i = 0
        if relu {
            while i + L.scalarCount <= count {
                Vector.store(pointwiseMax(Vector.load(x + i) * s + t, zero), y + i)
                i += L.scalarCount
            }
            while i < count {
                let v = x[i] * scale + shift
                y[i] = v > 0 ? v : 0
                i += 1
            }
        } else {
            while i + L.scalarCount <= count {
                Vector.store(Vector.load(x + i) * s + t, y + i)
                i += L.scalarCount
            }
            while i < count {
                y[i] = x[i] * scale + shift
                i += 1
            }
        }
    }

    /// Training backward. Writes the local (this rank's) `gammaGrad` and `betaGrad` and
    /// `inputGrad = gamma*invstd*(g - mean(g) - xhat*mean(g*xhat))`, where `g` is `outputGrad`, or,
    /// when `reluOutput` is given (BN fused with the ReLU after it), `outputGrad` where
    /// `reluOutput > 0` and 0 elsewhere. `inputGrad` may alias `outputGrad`.
    /// With `reduce`, the means are over the global batch (synchronised batch norm).
    public func backward(
        input: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>,
        inputGrad: UnsafeMutablePointer<Float>, batch: Int,
        gamma: UnsafePointer<Float>,
        savedMean: UnsafePointer<Float>, savedInvStd: UnsafePointer<Float>,
        gammaGrad: UnsafeMutablePointer<Float>, betaGrad: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Double>, reduce: StatisticsReducer? = nil,
        reluOutput: UnsafePointer<Float>? = nil, threads: Int = 1
    ) throws {
        let c = channels
        let hw = spatial
        let stride = c * hw
        // sum(g) and sum(g * x) per channel; sum(g * xhat) = invstd * (sum(g*x) - mean * sum(g)).
        perChannelSums(
            threads, batch, into: scratch,
            GradientSums(outputGrad: outputGrad, input: input, reluOutput: reluOutput, stride: stride, hw: hw))
        for ch in 0..<c {
            let sumDy = scratch[ch]
            let sumDyXhat = Double(savedInvStd[ch]) * (scratch[c + ch] - Double(savedMean[ch]) * sumDy)
            betaGrad[ch] = Float(sumDy)
            gammaGrad[ch] = Float(sumDyXhat)
            scratch[c + ch] = sumDyXhat
        }
        scratch[2 * c] = Double(batch * hw)
        if let reduce { try reduce.sumOverReplicas(UnsafeMutableBufferPointer(start: scratch, count: 2 * c + 1)) }
        let count = scratch[2 * c]
        let split = PlaneSplit(threads: threads, batch: batch, channels: c)
        parallelChunks(
            split.chunks,
            NormaliseBackward(
                split: split,
                input: input, outputGrad: outputGrad, inputGrad: inputGrad, gamma: gamma, savedMean: savedMean,
                savedInvStd: savedInvStd, sums: scratch, reluOutput: reluOutput, count: count, channels: c,
                stride: stride, hw: hw))
    }
}

/// Per (image, channel) plane, the two float sums `BatchNorm.perChannelSums` adds up; as a
/// parallel region, chunk t sums its part of the planes as `layout` says (`layout!.sum(chunk:_:)`,
/// in each concrete type, so that the workers run code specialised to it).
protocol PlaneSums: ParallelRegion {
    /// Set by `perChannelSums` before it runs the region.
    var layout: BatchNorm.SumsLayout? { get set }
    func sums(image n: Int, channel ch: Int) -> (Float, Float)
}

extension BatchNorm {
    /// The forward statistics: sum and sum of squares of each plane.
    struct SumAndSquares: PlaneSums {
        var layout: SumsLayout?
        let input: UnsafePointer<Float>
        let stride: Int
        let hw: Int

        @inline(__always) func sums(image n: Int, channel ch: Int) -> (Float, Float) {
            Vector.sumAndSquares(input + n * stride + ch * hw, hw)
        }

        func run(chunk t: Int) { layout!.sum(chunk: t, self) }
    }

    /// The backward statistics: sum(g) and sum(g * x) of each plane (g masked by the ReLU's output).
    struct GradientSums: PlaneSums {
        var layout: SumsLayout?
        let outputGrad: UnsafePointer<Float>
        let input: UnsafePointer<Float>
        let reluOutput: UnsafePointer<Float>?
        let stride: Int
        let hw: Int

        @inline(__always) func sums(image n: Int, channel ch: Int) -> (Float, Float) {
            let o = n * stride + ch * hw
            return Vector.gradientSums(outputGrad + o, input + o, mask: reluOutput.map { $0 + o }, hw)
        }

        func run(chunk t: Int) { layout!.sum(chunk: t, self) }
    }

    /// `output = [relu](gamma * (input - mean) * invStd + beta)` with the batch's statistics.
    struct Normalise: ParallelRegion {
        let split: PlaneSplit
        let input: UnsafePointer<Float>
        let output: UnsafeMutablePointer<Float>
        let gamma: UnsafePointer<Float>
        let beta: UnsafePointer<Float>
        let mean: UnsafePointer<Float>
        let invStd: UnsafePointer<Float>
        let stride: Int
        let hw: Int
        let relu: Bool

        func run(chunk t: Int) {
            let (images, planeChannels) = split.ranges(chunk: t)
            for n in images {
                for ch in planeChannels {
                    let scale = gamma[ch] * invStd[ch]
                    let shift = beta[ch] - mean[ch] * scale
                    let plane = n * stride + ch * hw
                    BatchNorm.affine(input + plane, output + plane, hw, scale, shift, relu)
                }
            }
        }
    }

    /// The same with the running statistics (eval).
    struct NormaliseWithRunningStatistics: ParallelRegion {
        let split: PlaneSplit
        let input: UnsafePointer<Float>
        let output: UnsafeMutablePointer<Float>
        let gamma: UnsafePointer<Float>
        let beta: UnsafePointer<Float>
        let runningMean: UnsafePointer<Float>
        let runningVar: UnsafePointer<Float>
        let epsilon: Float
        let stride: Int
        let hw: Int
        let relu: Bool

        func run(chunk t: Int) {
            let (images, planeChannels) = split.ranges(chunk: t)
            for n in images {
                for ch in planeChannels {
                    let scale = gamma[ch] / (runningVar[ch] + epsilon).squareRoot()
                    let shift = beta[ch] - runningMean[ch] * scale
                    let plane = n * stride + ch * hw
                    BatchNorm.affine(input + plane, output + plane, hw, scale, shift, relu)
                }
            }
        }
    }

    /// `inputGrad = gamma*invstd*(g - mean(g) - xhat*mean(g*xhat))` from the summed statistics:
    /// `sums[ch]` = sum(g), `sums[c + ch]` = sum(g * xhat), over `count` values.
    struct NormaliseBackward: ParallelRegion {
        let split: PlaneSplit
        let input: UnsafePointer<Float>
        let outputGrad: UnsafePointer<Float>
        let inputGrad: UnsafeMutablePointer<Float>
        let gamma: UnsafePointer<Float>
        let savedMean: UnsafePointer<Float>
        let savedInvStd: UnsafePointer<Float>
        let sums: UnsafeMutablePointer<Double>
        let reluOutput: UnsafePointer<Float>?
        let count: Double
        let channels: Int
        let stride: Int
        let hw: Int

        func run(chunk t: Int) {
            let (images, planeChannels) = split.ranges(chunk: t)
            let c = channels
            for n in images {
                for ch in planeChannels {
                    let invStd = savedInvStd[ch]
                    let meanDy = Float(sums[ch] / count)
                    let meanDyXhat = Float(sums[c + ch] / count)
                    let scale = gamma[ch] * invStd
                    // dx = scale*g - scale*meanDy - scale*meanDyXhat*invStd*(x - mean) = a*g + b*x + k
                    let b = -scale * meanDyXhat * invStd
                    let k = -scale * meanDy - b * savedMean[ch]
                    let o = n * stride + ch * hw
                    let x = input + o
                    let dy = outputGrad + o
                    let dx = inputGrad + o
                    typealias L = Vector.Lanes
                    let vs = L(repeating: scale)
                    let vb = L(repeating: b)
                    let vk = L(repeating: k)
                    let zero = L(repeating: 0)
                    var i = 0
                    if let mask = reluOutput.map({ $0 + o }) {
                        while i + L.scalarCount <= hw {
                            let g = Vector.load(dy + i).replacing(with: zero, where: Vector.load(mask + i) .<= zero)
                            Vector.store(vs * g + vb * Vector.load(x + i) + vk, dx + i)
                            i += L.scalarCount
                        }
                        while i < hw {
                            let g = mask[i] > 0 ? dy[i] : 0
                            dx[i] = scale * g + b * x[i] + k
                            i += 1
                        }
                    } else {
                        while i + L.scalarCount <= hw {
                            Vector.store(vs * Vector.load(dy + i) + vb * Vector.load(x + i) + vk, dx + i)
                            i += L.scalarCount
                        }
                        while i < hw {
                            dx[i] = scale * dy[i] + b * x[i] + k
                            i += 1
                        }
                    }
                }
            }
        }
    }
}
