import Glibc

/// Softmax cross-entropy averaged over the batch, with its gradient.
public enum SoftmaxCrossEntropy {
    /// Returns the summed (not averaged) loss over `batch` rows of `logits` [batch, classes] and the
    /// number of rows whose arg-max equals the label; writes `logitsGrad = (softmax - onehot) * gradScale`.
    @discardableResult
    public static func forwardBackward(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
        batch: Int, classes: Int,
        logitsGrad: UnsafeMutablePointer<Float>?, gradScale: Float
    ) -> (lossSum: Double, correct: Int) {
        var loss = 0.0
        var correct = 0
        for n in 0..<batch {
            let z = logits + n * classes
            var best = 0
            var top = z[0]
            for k in 1..<classes where z[k] > top {
                top = z[k]
                best = k
            }
            var sum = 0.0
            for k in 0..<classes { sum += exp(Double(z[k] - top)) }
            let label = Int(labels[n])
            loss += log(sum) - Double(z[label] - top)
            if best == label { correct += 1 }
            if let g = logitsGrad?.advanced(by: n * classes) {
                for k in 0..<classes {
                    let p = exp(Double(z[k] - top)) / sum
                    g[k] = Float(p - (k == label ? 1 : 0)) * gradScale
                }
            }
        }
        return (loss, correct)
    }
}
