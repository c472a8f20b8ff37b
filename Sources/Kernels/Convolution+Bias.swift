extension Convolution {
    /// Adds `bias[Cout]` to every plane of `output` [batch, Cout, Hout, Wout].
    public func addBias(_ bias: UnsafePointer<Float>, to output: UnsafeMutablePointer<Float>, batch: Int) {
        for n in 0..<batch {
            for c in 0..<outChannels {
                let plane = output + (n * outChannels + c) * outPixels
                let b = bias[c]
                for i in 0..<outPixels { plane[i] += b }
            }
        }
    }

    /// `grad[c] = sum over images and pixels of outputGrad[n, c, :, :]` (the bias gradient).
    public func biasGradient(_ outputGrad: UnsafePointer<Float>, into grad: UnsafeMutablePointer<Float>, batch: Int) {
        for c in 0..<outChannels {
            var sum: Float = 0
            for n in 0..<batch { sum += Vector.sum(outputGrad + (n * outChannels + c) * outPixels, outPixels) }
            grad[c] = sum
        }
    }
}
