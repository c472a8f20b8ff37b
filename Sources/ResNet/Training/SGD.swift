import Foundation
import Kernels

/// SGD with momentum and weight decay over the store's contiguous buffers, and optionally LARS.
///
/// Plain SGD has PyTorch's semantics: `v = momentum * v + (g + weightDecay * w)`, `w -= lr * v`.
/// Weight decay applies to every parameter (BN and biases included), as in the paper.
///
/// LARS (You, Gitman and Ginsburg 2017), when `trustCoefficient` is set, gives every weight tensor
/// (a conv or fc weight) a rate of its own, `lr * η ||w|| / (||g|| + weightDecay ||w||)` (1 when
/// either norm is 0), and, as the LARS implementations in MLPerf do, takes the rate into the
/// momentum: `v = momentum * v + lr * trust * (g + weightDecay * w)`, `w -= v`. Batch-norm
/// parameters and biases (the one-dimensional tensors) keep the plain rate and get no weight decay.
public struct SGD: Sendable, Equatable, Codable {
    public var momentum: Float
    public var weightDecay: Float
    /// LARS's η; nil for plain SGD. You et al. use 0.001.
    public var trustCoefficient: Float?

    public static let defaultTrustCoefficient: Float = 0.001

    public init(momentum: Float = 0.9, weightDecay: Float = 1e-4, trustCoefficient: Float? = nil) {
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.trustCoefficient = trustCoefficient
    }

    /// One update of every parameter. `threads` never changes the bits: SGD is element-wise (runs
    /// of at least `floatsPerThread` parameters each), and LARS gives each tensor to one thread.
    public func step(_ store: ParameterStore, learningRate: Float, threads: Int = 1) {
        if let trustCoefficient {
            larsStep(store, learningRate: learningRate, trust: trustCoefficient, threads: threads)
            return
        }
        let count = store.parameterCount
        let chunks = max(1, min(threads, count / Self.floatsPerThread))
        parallelChunks(
            chunks,
            MomentumUpdate(
                values: store.values, gradients: store.gradients, momentum: store.momentum, m: momentum,
                weightDecay: weightDecay, lr: learningRate, count: count, chunks: chunks))
    }

    /// `SGD with momentum 0.9 and weight decay 0.0001`, or `LARS (trust coefficient 0.001) ...`.
    public var summary: String {
        (trustCoefficient.map { "LARS (trust coefficient \($0)) with" } ?? "SGD with")
            + " momentum \(momentum) and weight decay \(weightDecay)"
    }

    /// The flags that ask for this optimizer.
    public var flags: String {
        (trustCoefficient.map { "--optimizer lars --trust-coefficient \($0) " } ?? "--optimizer sgd ")
            + "--momentum \(momentum) --weight-decay \(weightDecay)"
    }

    /// The fewest parameters worth a thread of their own: a parallel region costs tens of
    /// microseconds, about what one thread takes to update this many.
    static let floatsPerThread = 1 << 17

    /// LARS's rate multiplier for one weight tensor: `η ||w|| / (||g|| + weightDecay ||w||)`, or 1
    /// when a norm is 0 (a fresh zero tensor, or one without gradient). Norms summed in Double, in order.
    static func trustRatio(
        weights w: UnsafePointer<Float>, gradients g: UnsafePointer<Float>, count: Int, trust: Float, weightDecay: Float
    ) -> Float {
        var ww = 0.0
        var gg = 0.0
        for i in 0..<count {
            ww += Double(w[i]) * Double(w[i])
            gg += Double(g[i]) * Double(g[i])
        }
        let wNorm = ww.squareRoot()
        let gNorm = gg.squareRoot()
        guard wNorm > 0 && gNorm > 0 else { return 1 }
        return Float(Double(trust) * wNorm / (gNorm + Double(weightDecay) * wNorm))
    }

    private func larsStep(_ store: ParameterStore, learningRate lr: Float, trust: Float, threads: Int) {
        let tensors = store.parameters
        let chunks = max(1, min(threads, store.parameterCount / Self.floatsPerThread))
        parallelChunks(
            chunks,
            LARSUpdate(
                tensors: tensors, values: store.values, gradients: store.gradients, momentum: store.momentum,
                m: momentum, weightDecay: weightDecay, lr: lr, trust: trust, chunks: chunks))
    }
}

// The two updates as parallel regions: chunk t takes a run of parameters (SGD) or of tensors (LARS).

/// `v = m v + (g + wd w)`, `w -= lr v`.
struct MomentumUpdate: ParallelRegion {
    let values: UnsafeMutablePointer<Float>
    let gradients: UnsafeMutablePointer<Float>
    let momentum: UnsafeMutablePointer<Float>
    let m: Float
    let weightDecay: Float
    let lr: Float
    let count: Int
    let chunks: Int

    func run(chunk t: Int) {
        let (w, g, v) = (values, gradients, momentum)
        for i in chunkRange(t, of: chunks, count: count) {
            let vi = m * v[i] + (g[i] + weightDecay * w[i])
            v[i] = vi
            w[i] -= lr * vi
        }
    }
}

/// LARS, tensor by tensor: `v = m v + lr * trust ratio * (g + wd w)`, `w -= v`; batch-norm scale and
/// shift, and biases, take the plain rate and no weight decay.
struct LARSUpdate: ParallelRegion {
    let tensors: [TensorSpec]
    let values: UnsafeMutablePointer<Float>
    let gradients: UnsafeMutablePointer<Float>
    let momentum: UnsafeMutablePointer<Float>
    let m: Float
    let weightDecay: Float
    let lr: Float
    let trust: Float
    let chunks: Int

    func run(chunk t: Int) {
        for index in chunkRange(t, of: chunks, count: tensors.count) {
            let spec = tensors[index]
            let w = values + spec.offset
            let g = gradients + spec.offset
            let v = momentum + spec.offset
            let adapted = spec.shape.count > 1
            let wd: Float = adapted ? weightDecay : 0
            let rate =
                adapted
                ? lr * SGD.trustRatio(weights: w, gradients: g, count: spec.count, trust: trust, weightDecay: wd)
                : lr
            for i in 0..<spec.count {
                let vi = m * v[i] + rate * (g[i] + wd * w[i])
                v[i] = vi
                w[i] -= vi
            }
        }
    }
}
