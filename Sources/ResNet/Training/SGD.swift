import Kernels

/// SGD with momentum and weight decay, PyTorch semantics, over the store's contiguous buffers:
/// `v = momentum * v + (g + weightDecay * w)`, `w -= lr * v`. Weight decay applies to every
/// parameter (BN and biases included), as in the paper.
public struct SGD: Sendable, Equatable, Codable {
    public var momentum: Float
    public var weightDecay: Float

    public init(momentum: Float = 0.9, weightDecay: Float = 1e-4) {
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// One update of every parameter. Element-wise, so `threads` (runs of at least
    /// `floatsPerThread` parameters each) never changes the bits.
    public func step(_ store: ParameterStore, learningRate: Float, threads: Int = 1) {
        let w = store.values
        let g = store.gradients
        let v = store.momentum
        let m = momentum
        let wd = weightDecay
        let lr = learningRate
        let count = store.parameterCount
        let chunks = max(1, min(threads, count / Self.floatsPerThread))
        parallelChunks(chunks) { t in
            for i in chunkRange(t, of: chunks, count: count) {
                let vi = m * v[i] + (g[i] + wd * w[i])
                v[i] = vi
                w[i] -= lr * vi
            }
        }
    }

    /// The fewest parameters worth a thread of their own: a parallel region costs tens of
    /// microseconds, about what one thread takes to update this many.
    static let floatsPerThread = 1 << 17
}
