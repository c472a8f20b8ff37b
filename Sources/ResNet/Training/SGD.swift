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

    public func step(_ store: ParameterStore, learningRate: Float) {
        let w = store.values
        let g = store.gradients
        let v = store.momentum
        let m = momentum
        let wd = weightDecay
        let lr = learningRate
        for i in 0..<store.parameterCount {
            let vi = m * v[i] + (g[i] + wd * w[i])
            v[i] = vi
            w[i] -= lr * vi
        }
    }
}
