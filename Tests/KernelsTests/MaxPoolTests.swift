import Kernels
import Testing

/// Max pooling against the definition: each window's largest value and the first position holding
/// it (ties are common after ReLU), padded positions never winning, at any thread count.
struct MaxPoolTests {
    /// The definition, window by window with every bound checked.
    static func reference(_ pool: MaxPool, _ x: [Float], batch: Int) -> (y: [Float], at: [Int32]) {
        var y = [Float](), at = [Int32]()
        for p in 0..<(batch * pool.channels) {
            for oy in 0..<pool.outHeight {
                for ox in 0..<pool.outWidth {
                    var best = -Float.infinity
                    var index: Int32 = -1
                    for ky in 0..<pool.kernelSize {
                        for kx in 0..<pool.kernelSize {
                            let iy = oy * pool.stride - pool.padding + ky
                            let ix = ox * pool.stride - pool.padding + kx
                            guard iy >= 0, iy < pool.inHeight, ix >= 0, ix < pool.inWidth else { continue }
                            let v = x[(p * pool.inHeight + iy) * pool.inWidth + ix]
                            if index < 0 || v > best { (best, index) = (v, Int32(iy * pool.inWidth + ix)) }
                        }
                    }
                    y.append(best)
                    at.append(index)
                }
            }
        }
        return (y, at)
    }

    @Test(arguments: [(3, 9, 3, 2, 1), (4, 8, 2, 2, 0), (2, 15, 3, 2, 1), (16, 12, 3, 2, 1)])
    func matchesTheDefinition(shape: (Int, Int, Int, Int, Int)) {
        let pool = MaxPool(
            channels: shape.0, inHeight: shape.1, inWidth: shape.1, kernelSize: shape.2, stride: shape.3,
            padding: shape.4)
        let batch = 5
        // Few distinct values (many ties), negatives included (padding must not win against them).
        let x = randomValues(batch * pool.inputSize, seed: 41).map { ($0 * 3).rounded() - 1 }
        let dy = randomValues(batch * pool.outputSize, seed: 42)
        let expected = Self.reference(pool, x, batch: batch)
        var dxExpected = [Float](repeating: 0, count: x.count)
        for (o, index) in expected.at.enumerated() {
            let plane = o / (pool.outHeight * pool.outWidth)
            dxExpected[plane * pool.inHeight * pool.inWidth + Int(index)] += dy[o]
        }
        for threads in 1...3 {
            var y = [Float](repeating: .nan, count: dy.count)
            var at = [Int32](repeating: -7, count: dy.count)
            var dx = [Float](repeating: .nan, count: x.count)
            pool.forward(input: x, output: &y, argmax: &at, batch: batch, threads: threads)
            pool.backward(outputGrad: dy, argmax: at, inputGrad: &dx, batch: batch, threads: threads)
            #expect(y == expected.y && at == expected.at, "\(shape), \(threads) threads")
            #expect(dx == dxExpected, "\(shape), \(threads) threads")
        }
    }
}
