/// Max pooling over float32 NCHW tensors (square window, equal stride; padded positions never
/// win, as in PyTorch), remembering the winner of every window for the backward pass.
public struct MaxPool: Sendable, Equatable {
    public let channels: Int
    public let inHeight: Int
    public let inWidth: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int

    public init(channels: Int, inHeight: Int, inWidth: Int, kernelSize: Int, stride: Int, padding: Int) {
        self.channels = channels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
    }

    public var outHeight: Int { (inHeight + 2 * padding - kernelSize) / stride + 1 }
    public var outWidth: Int { (inWidth + 2 * padding - kernelSize) / stride + 1 }
    public var inputSize: Int { channels * inHeight * inWidth }
    public var outputSize: Int { channels * outHeight * outWidth }

    /// `output` [batch, C, Hout, Wout]; `argmax` receives each window's winning index within its plane.
    public func forward(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        argmax: UnsafeMutablePointer<Int32>, batch: Int
    ) {
        let plane = inHeight * inWidth
        let outPlane = outHeight * outWidth
        for p in 0..<(batch * channels) {
            let x = input + p * plane
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    var best = -Float.infinity
                    var at: Int32 = -1
                    for ky in 0..<kernelSize {
                        let iy = oy * stride - padding + ky
                        guard iy >= 0, iy < inHeight else { continue }
                        for kx in 0..<kernelSize {
                            let ix = ox * stride - padding + kx
                            guard ix >= 0, ix < inWidth else { continue }
                            let v = x[iy * inWidth + ix]
                            if v > best || at < 0 {
                                best = v
                                at = Int32(iy * inWidth + ix)
                            }
                        }
                    }
                    output[p * outPlane + oy * outWidth + ox] = best
                    argmax[p * outPlane + oy * outWidth + ox] = at
                }
            }
        }
    }

    /// `inputGrad` (overwritten) receives each output gradient at its window's winner.
    public func backward(
        outputGrad: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
        inputGrad: UnsafeMutablePointer<Float>, batch: Int
    ) {
        let plane = inHeight * inWidth
        let outPlane = outHeight * outWidth
        inputGrad.update(repeating: 0, count: batch * inputSize)
        for p in 0..<(batch * channels) {
            let dx = inputGrad + p * plane
            for o in 0..<outPlane { dx[Int(argmax[p * outPlane + o])] += outputGrad[p * outPlane + o] }
        }
    }
}
