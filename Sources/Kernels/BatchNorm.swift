/// Sums per-channel statistics across replicas (synchronised batch norm): called with a buffer of
/// doubles that it replaces, in place, by their sum over all ranks.
public typealias StatisticsReducer = (UnsafeMutableBufferPointer<Double>) -> Void

/// Batch normalisation over float32 NCHW tensors, per channel, with PyTorch semantics:
/// training mode normalises with the batch mean and biased variance and updates running averages
/// with `momentum` (running variance with the unbiased variance); eval mode uses the running ones.
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
    public var scratchCount: Int { 2 * channels + 1 }

    /// Training forward: `output = gamma * (input - mean) / sqrt(var + eps) + beta`, batch statistics.
    /// Saves mean and 1/sqrt(var+eps) per channel for the backward pass; `output` may alias `input`
    /// only if the backward pass is given the input some other way, so the model keeps them apart.
    /// With `reduce`, mean and variance are those of the whole global batch over all ranks.
    public func forwardTraining(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int,
                                gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>,
                                runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
                                scratch: UnsafeMutablePointer<Double>, reduce: StatisticsReducer? = nil) {
        let c = channels, hw = spatial, stride = c * hw
        // First pass: sums -> mean.
        for ch in 0..<c {
            var total = 0.0
            for n in 0..<batch { total += Double(planeSum(input + n * stride + ch * hw, hw)) }
            scratch[ch] = total
        }
        scratch[c] = Double(batch * hw)
        if let reduce { reduce(UnsafeMutableBufferPointer(start: scratch, count: c + 1)) }
        let count = scratch[c]
        for ch in 0..<c { savedMean[ch] = Float(scratch[ch] / count) }
        // Second pass: squared deviations -> variance (two passes for accuracy).
        for ch in 0..<c {
            let mean = savedMean[ch]
            var total = 0.0
            for n in 0..<batch {
                let p = input + n * stride + ch * hw
                var s: Float = 0
                for i in 0..<hw { let d = p[i] - mean; s += d * d }
                total += Double(s)
            }
            scratch[ch] = total
        }
        if let reduce { reduce(UnsafeMutableBufferPointer(start: scratch, count: c)) }
        for ch in 0..<c {
            let variance = scratch[ch] / count
            savedInvStd[ch] = Float(1.0 / (variance + Double(epsilon)).squareRoot())
            let unbiased = count > 1 ? variance * count / (count - 1) : variance
            runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * savedMean[ch]
            runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * Float(unbiased)
        }
        for n in 0..<batch {
            for ch in 0..<c {
                let scale = gamma[ch] * savedInvStd[ch]
                let shift = beta[ch] - savedMean[ch] * scale
                let x = input + n * stride + ch * hw, y = output + n * stride + ch * hw
                for i in 0..<hw { y[i] = x[i] * scale + shift }
            }
        }
    }

    /// Eval forward with the running statistics. `output` may alias `input`.
    public func forwardInference(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                 runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>) {
        let c = channels, hw = spatial, stride = c * hw
        for n in 0..<batch {
            for ch in 0..<c {
                let scale = gamma[ch] / (runningVar[ch] + epsilon).squareRoot()
                let shift = beta[ch] - runningMean[ch] * scale
                let x = input + n * stride + ch * hw, y = output + n * stride + ch * hw
                for i in 0..<hw { y[i] = x[i] * scale + shift }
            }
        }
    }

    /// Training backward. Writes the local (this rank's) `gammaGrad` and `betaGrad` and
    /// `inputGrad = gamma*invstd*(dy - mean(dy) - xhat*mean(dy*xhat))`; `inputGrad` may alias `outputGrad`.
    /// With `reduce`, the means are over the global batch (synchronised batch norm).
    public func backward(input: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>,
                         inputGrad: UnsafeMutablePointer<Float>, batch: Int,
                         gamma: UnsafePointer<Float>,
                         savedMean: UnsafePointer<Float>, savedInvStd: UnsafePointer<Float>,
                         gammaGrad: UnsafeMutablePointer<Float>, betaGrad: UnsafeMutablePointer<Float>,
                         scratch: UnsafeMutablePointer<Double>, reduce: StatisticsReducer? = nil) {
        let c = channels, hw = spatial, stride = c * hw
        for ch in 0..<c {
            let mean = savedMean[ch]
            var sumDy = 0.0, sumDyX = 0.0
            for n in 0..<batch {
                let x = input + n * stride + ch * hw, dy = outputGrad + n * stride + ch * hw
                var a: Float = 0, b: Float = 0
                for i in 0..<hw { a += dy[i]; b += dy[i] * (x[i] - mean) }
                sumDy += Double(a)
                sumDyX += Double(b)
            }
            let invStd = Double(savedInvStd[ch])
            betaGrad[ch] = Float(sumDy)
            gammaGrad[ch] = Float(sumDyX * invStd)
            scratch[ch] = sumDy
            scratch[c + ch] = sumDyX * invStd
        }
        scratch[2 * c] = Double(batch * hw)
        if let reduce { reduce(UnsafeMutableBufferPointer(start: scratch, count: 2 * c + 1)) }
        let count = scratch[2 * c]
        for ch in 0..<c {
            let invStd = savedInvStd[ch], mean = savedMean[ch]
            let meanDy = Float(scratch[ch] / count)
            let meanDyXhat = Float(scratch[c + ch] / count)
            let scale = gamma[ch] * invStd
            for n in 0..<batch {
                let x = input + n * stride + ch * hw
                let dy = outputGrad + n * stride + ch * hw, dx = inputGrad + n * stride + ch * hw
                for i in 0..<hw {
                    let xhat = (x[i] - mean) * invStd
                    dx[i] = scale * (dy[i] - meanDy - xhat * meanDyXhat)
                }
            }
        }
    }

    @inline(__always)
    private func planeSum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        var s: Float = 0
        for i in 0..<count { s += p[i] }
        return s
    }
}
