/// Fully connected layer: `y[batch, out] = x[batch, in] * W^T + b`, W laid out [out, in] (PyTorch's).
public struct Linear: Sendable, Equatable {
    public let inFeatures: Int
    public let outFeatures: Int

    public init(inFeatures: Int, outFeatures: Int) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    public var weightCount: Int { inFeatures * outFeatures }

    public func forward(
        input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, batch: Int
    ) {
        for n in 0..<batch { (output + n * outFeatures).update(from: bias, count: outFeatures) }
        sgemm(
            transposeA: false, transposeB: true, m: batch, n: outFeatures, k: inFeatures,
            a: input, lda: inFeatures, b: weight, ldb: inFeatures, beta: 1, c: output, ldc: outFeatures)
    }

    /// Writes `weightGrad = dy^T x`, `biasGrad = sum_n dy`, and `inputGrad = dy W` (all overwritten;
    /// zeros for a batch of 0).
    public func backward(
        input: UnsafePointer<Float>, weight: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>,
        inputGrad: UnsafeMutablePointer<Float>, weightGrad: UnsafeMutablePointer<Float>,
        biasGrad: UnsafeMutablePointer<Float>, batch: Int
    ) {
        guard batch > 0 else {
            weightGrad.update(repeating: 0, count: weightCount)
            biasGrad.update(repeating: 0, count: outFeatures)
            return
        }
        sgemm(
            transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: batch,
            a: outputGrad, lda: outFeatures, b: input, ldb: inFeatures, beta: 0, c: weightGrad, ldc: inFeatures)
        for o in 0..<outFeatures {
            var s: Float = 0
            for n in 0..<batch { s += outputGrad[n * outFeatures + o] }
            biasGrad[o] = s
        }
        sgemm(
            transposeA: false, transposeB: false, m: batch, n: inFeatures, k: outFeatures,
            a: outputGrad, lda: outFeatures, b: weight, ldb: inFeatures, beta: 0, c: inputGrad, ldc: inFeatures)
    }
}
