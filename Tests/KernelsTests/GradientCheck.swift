import Kernels

/// Deterministic test values in [-1, 1).
func randomValues(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Float(Double(state >> 11) * 0x1p-53 * 2 - 1)
    }
}

/// Norm-wise relative error between an analytic gradient and central finite differences of
/// `loss` (evaluated in float64 over the float32 kernel's outputs) with respect to `values`.
func finiteDifferenceError(
    values: inout [Float], analytic: [Float], epsilon: Float = 1e-2,
    loss: ([Float]) -> Double
) -> Double {
    precondition(values.count == analytic.count)
    var diff = 0.0
    var normA = 0.0
    var normN = 0.0
    for i in values.indices {
        let saved = values[i]
        values[i] = saved + epsilon
        let plus = loss(values)
        values[i] = saved - epsilon
        let minus = loss(values)
        values[i] = saved
        let numeric = (plus - minus) / (2 * Double(epsilon))
        let a = Double(analytic[i])
        diff += (a - numeric) * (a - numeric)
        normA += a * a
        normN += numeric * numeric
    }
    return diff.squareRoot() / max(normA.squareRoot(), normN.squareRoot(), 1e-30)
}

/// `sum(weights * output)` in float64: a loss whose gradient with respect to output is `weights`.
func weightedSum(_ output: [Float], _ weights: [Float]) -> Double {
    zip(output, weights).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
}
