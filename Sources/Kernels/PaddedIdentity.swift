/// The paper's option-A shortcut where the shape changes: the identity subsampled with stride 2
/// and zero-padded in channels, `Cout = Cin + 2*pad` with `pad` zero channels on each side
/// (the common PyTorch CIFAR convention, `F.pad(x[:, :, ::2, ::2], (0,0,0,0,pad,pad))`).
/// NCHW float32.
public struct PaddedIdentity: Sendable, Equatable {
    public let inChannels: Int
    public let outChannels: Int
    public let inHeight: Int
    public let inWidth: Int
    public let stride: Int

    public init(inChannels: Int, outChannels: Int, inHeight: Int, inWidth: Int, stride: Int) {
        precondition(outChannels >= inChannels && (outChannels - inChannels) % 2 == 0)
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.stride = stride
    }

    public var outHeight: Int { (inHeight - 1) / stride + 1 }
    public var outWidth: Int { (inWidth - 1) / stride + 1 }
    var pad: Int { (outChannels - inChannels) / 2 }

    /// `output += shortcut(input)`: input [batch, Cin, H, W], output [batch, Cout, Hout, Wout].
    public func addForward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        let h = inHeight
        let w = inWidth
        let oh = outHeight
        let ow = outWidth
        for n in 0..<batch {
            for c in 0..<inChannels {
                let x = input + (n * inChannels + c) * h * w
                let y = output + (n * outChannels + c + pad) * oh * ow
                for oy in 0..<oh {
                    let xr = x + oy * stride * w
                    let yr = y + oy * ow
                    for ox in 0..<ow { yr[ox] += xr[ox * stride] }
                }
            }
        }
    }

    /// `inputGrad (+)= shortcut^T(outputGrad)`: the strided positions receive the gradient of the
    /// channels they were copied to, every other input position 0.
    public func backward(
        outputGrad: UnsafePointer<Float>, inputGrad: UnsafeMutablePointer<Float>,
        batch: Int, accumulate: Bool
    ) {
        let h = inHeight
        let w = inWidth
        let oh = outHeight
        let ow = outWidth
        if !accumulate { inputGrad.update(repeating: 0, count: batch * inChannels * h * w) }
        for n in 0..<batch {
            for c in 0..<inChannels {
                let dx = inputGrad + (n * inChannels + c) * h * w
                let dy = outputGrad + (n * outChannels + c + pad) * oh * ow
                for oy in 0..<oh {
                    let xr = dx + oy * stride * w
                    let yr = dy + oy * ow
                    for ox in 0..<ow { xr[ox * stride] += yr[ox] }
                }
            }
        }
    }
}
