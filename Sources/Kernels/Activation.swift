/// Rectified linear unit on any float32 tensor, element-wise.
public enum ReLU {
    /// `output = max(0, input)`; `output` may alias `input` (in place).
    @inlinable
    public static func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { output[i] = max(0, input[i]) }
    }

    /// `inputGrad = outputGrad where output > 0, else 0`, from the forward *output*;
    /// `inputGrad` may alias `outputGrad`.
    @inlinable
    public static func backward(output: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>,
                                inputGrad: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { inputGrad[i] = output[i] > 0 ? outputGrad[i] : 0 }
    }
}

/// Element-wise helpers.
public enum Elementwise {
    /// `y += x`.
    @inlinable
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }
}
