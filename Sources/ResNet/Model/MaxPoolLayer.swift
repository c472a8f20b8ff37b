import Kernels

/// A max pool inside a network: the ImageNet ResNets' 3x3/2 pool after the first layer (Table 1)
/// and VGG's 2x2/2 pools. Owns its output slice and the argmax the backward pass routes through.
final class MaxPoolLayer {
    let pool: MaxPool
    /// Arena slice of the output [batch, C, Hout, Wout].
    let output: Int
    let argmax: UnsafeMutablePointer<Int32>
    unowned let context: NetworkContext

    init(_ context: NetworkContext, channels: Int, inSize: (Int, Int), kernelSize: Int, stride: Int, padding: Int) {
        self.context = context
        pool = MaxPool(
            channels: channels, inHeight: inSize.0, inWidth: inSize.1, kernelSize: kernelSize,
            stride: stride, padding: padding)
        output = context.arena.reserve(context.batchCapacity * pool.outputSize)
        argmax = .allocate(capacity: context.batchCapacity * pool.outputSize)
        argmax.initialize(repeating: 0, count: context.batchCapacity * pool.outputSize)
    }

    deinit { argmax.deallocate() }

    var outSize: (Int, Int) { (pool.outHeight, pool.outWidth) }
}
