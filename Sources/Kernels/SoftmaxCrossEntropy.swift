import Glibc

/// Softmax cross-entropy averaged over the batch, with its gradient, optionally against smoothed
/// labels (Szegedy et al. 2016, as MLPerf's LARS recipe uses): the target puts `1 - ε` on the label
/// and spreads `ε` evenly over all classes, `q = (1 - ε) onehot + ε / classes`.
public enum SoftmaxCrossEntropy {
    /// Returns the summed (not averaged) loss `-Σ q log softmax` over `batch` rows of `logits`
    /// [batch, classes] and the number of rows whose arg-max equals the label; writes
    /// `logitsGrad = (softmax - q) * gradScale`. `labelSmoothing` ε is in [0, 1); at 0 the target is
    /// the one-hot label, with the bits the loss had before smoothing existed.
    @discardableResult
    public static func forwardBackward(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
        batch: Int, classes: Int,
        logitsGrad: UnsafeMutablePointer<Float>?, gradScale: Float, labelSmoothing: Float = 0
    ) -> (lossSum: Double, correct: Int) {
        let epsilon = Double(labelSmoothing)
        let spread = epsilon / Double(classes)
        let onLabel = 1 - epsilon + spread
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
            let label = Int(labels[n])
            // log Σ exp(z - top) - Σ_k q_k (z_k - top); classes the target leaves at 0 are skipped,
            // so at ε = 0 the sum is the label's term alone, bit for bit.
            var sum = 0.0
            var targetDot = 0.0
            for k in 0..<classes {
                let centred = Double(z[k] - top)
                sum += exp(centred)
                let q = k == label ? onLabel : spread
                if q != 0 { targetDot += q * centred }
            }
            loss += log(sum) - targetDot
            if best == label { correct += 1 }
            if let g = logitsGrad?.advanced(by: n * classes) {
                for k in 0..<classes {
                    let p = exp(Double(z[k] - top)) / sum
                    g[k] = Float(p - (k == label ? onLabel : spread)) * gradScale
                }
            }
        }
        return (loss, correct)
    }
}

/// Testing's scores: each image's softmax averaged over its `views` consecutive rows of logits
/// (ten-crop testing), then the cross-entropy of the average and whether the label is among the
/// top 1 and the top 5 (ties ranked by class index, as the arg-max above ranks them).
public enum ViewAveragedScores {
    /// Sums over `images` images: loss, top-1 correct, top-5 correct. `scratch` holds `classes` doubles.
    public static func score(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, images: Int, views: Int, classes: Int,
        scratch: UnsafeMutablePointer<Double>
    ) -> (lossSum: Double, top1: Int, top5: Int) {
        var loss = 0.0
        var top1 = 0
        var top5 = 0
        for n in 0..<images {
            let p = scratch
            p.update(repeating: 0, count: classes)
            for v in 0..<views {
                let z = logits + (n * views + v) * classes
                var top = z[0]
                for k in 1..<classes where z[k] > top { top = z[k] }
                var sum = 0.0
                for k in 0..<classes { sum += exp(Double(z[k] - top)) }
                for k in 0..<classes { p[k] += exp(Double(z[k] - top)) / sum / Double(views) }
            }
            let label = Int(labels[n * views])
            if views == 1 {
                // The same arithmetic as training's loss: log-sum-exp minus the label's logit.
                let z = logits + n * classes
                var top = z[0]
                for k in 1..<classes where z[k] > top { top = z[k] }
                var sum = 0.0
                for k in 0..<classes { sum += exp(Double(z[k] - top)) }
                loss += log(sum) - Double(z[label] - top)
            } else {
                loss -= log(p[label])
            }
            var rank = 0
            for k in 0..<classes where p[k] > p[label] || (p[k] == p[label] && k < label) { rank += 1 }
            if rank < 1 { top1 += 1 }
            if rank < 5 { top5 += 1 }
        }
        return (loss, top1, top5)
    }
}
