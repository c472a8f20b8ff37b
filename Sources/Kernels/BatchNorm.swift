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

    /// Doubles of scratch the training passes need (`scratch` arguments).
    public var scratchCount: Int { 3 * channels + 1 }

    /// Training forward: `output = [relu](gamma * (input - mean) / sqrt(var + eps) + beta)` with the
    /// batch's statistics, one pass for sum and sum of squares (per plane in float, across planes in
    /// double). Saves mean and 1/sqrt(var+eps) per channel for the backward pass; `output` must not
    /// alias `input` (the backward pass reads the input). With `reduce`, mean and variance are those
    /// of the whole global batch over all ranks.
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
        overChannels(threads) { channels in
            for ch in channels {
                scratch[ch] = 0
                scratch[c + ch] = 0
            }
            for n in 0..<batch {
                for ch in channels {
                    let (s, q) = Vector.sumAndSquares(input + n * stride + ch * hw, hw)
                    scratch[ch] += Double(s)
                    scratch[c + ch] += Double(q)
                }
            }
        }
        scratch[2 * c] = Double(batch * hw)
        if let reduce { try reduce.sumOverReplicas(UnsafeMutableBufferPointer(start: scratch, count: 2 * c + 1)) }
        let count = scratch[2 * c]
        for ch in 0..<c {
            let mean = scratch[ch] / count
            let variance = max(scratch[c + ch] / count - mean * mean, 0)
            savedMean[ch] = Float(mean)
            savedInvStd[ch] = Float(1 / (variance + Double(epsilon)).squareRoot())
            let unbiased = count > 1 ? variance * count / (count - 1) : variance
            runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * Float(mean)
            runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * Float(unbiased)
        }
        overChannels(threads) { channels in
            for n in 0..<batch {
                for ch in channels {
                    let scale = gamma[ch] * savedInvStd[ch]
                    let shift = beta[ch] - savedMean[ch] * scale
                    Self.affine(input + n * stride + ch * hw, output + n * stride + ch * hw, hw, scale, shift, relu)
                }
            }
        }
    }

    /// Runs `body(channels)` on contiguous ranges of channels, one per thread. Each channel's
    /// arithmetic is the same whatever the split (images in order), so results do not depend on
    /// `threads`; the passes still walk memory image by image, which the prefetcher prefers.
    @inline(__always)
    func overChannels(_ threads: Int, _ body: (Range<Int>) -> Void) {
        let chunks = max(1, min(threads, channels))
        parallelChunks(chunks) { t in body(chunkRange(t, of: chunks, count: channels)) }
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
        overChannels(threads) { channels in
            for n in 0..<batch {
                for ch in channels {
                    let scale = gamma[ch] / (runningVar[ch] + epsilon).squareRoot()
                    let shift = beta[ch] - runningMean[ch] * scale
                    Self.affine(input + n * stride + ch * hw, output + n * stride + ch * hw, hw, scale, shift, relu)
                }
            }
        }
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
        overChannels(threads) { channels in
            for ch in channels {
                scratch[ch] = 0
                scratch[c + ch] = 0
            }
            for n in 0..<batch {
                for ch in channels {
                    let o = n * stride + ch * hw
                    let (s, q) = Vector.gradientSums(outputGrad + o, input + o, mask: reluOutput.map { $0 + o }, hw)
                    scratch[ch] += Double(s)
                    scratch[c + ch] += Double(q)
                }
            }
        }
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
        overChannels(threads) { channels in
            for n in 0..<batch {
                for ch in channels {
                    let invStd = savedInvStd[ch]
                    let meanDy = Float(scratch[ch] / count)
                    let meanDyXhat = Float(scratch[c + ch] / count)
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
