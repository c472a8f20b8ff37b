/// Global average pooling: NCHW [batch, C, H, W] -> [batch, C].
public enum GlobalAveragePool {
    public static func forward(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        batch: Int, channels: Int, spatial: Int
    ) {
        let scale = 1 / Float(spatial)
        for p in 0..<(batch * channels) {
            let x = input + p * spatial
            var s: Float = 0
            for i in 0..<spatial { s += x[i] }
            output[p] = s * scale
        }
    }

    /// Spreads each gradient evenly over its plane (overwrites `inputGrad`).
    public static func backward(
        outputGrad: UnsafePointer<Float>, inputGrad: UnsafeMutablePointer<Float>,
        batch: Int, channels: Int, spatial: Int
    ) {
        let scale = 1 / Float(spatial)
        for p in 0..<(batch * channels) {
            (inputGrad + p * spatial).update(repeating: outputGrad[p] * scale, count: spatial)
        }
    }
}
