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

    /// `output` [batch, C, Hout, Wout]; `argmax` receives each window's winning index within its
    /// plane: the first largest value in row-major window order. Planes are split over `threads`.
    public func forward(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        argmax: UnsafeMutablePointer<Int32>, batch: Int, threads: Int = 1
    ) {
        let (planes, chunks) = planeChunks(batch: batch, threads: threads)
        parallelChunks(
            chunks, ForwardByPlanes(pool: self, input: input, output: output, argmax: argmax, planes: planes, chunks: chunks))
    }

    /// `inputGrad` (overwritten) receives each output gradient at its window's winner.
    public func backward(
        outputGrad: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
        inputGrad: UnsafeMutablePointer<Float>, batch: Int, threads: Int = 1
    ) {
        let (planes, chunks) = planeChunks(batch: batch, threads: threads)
        parallelChunks(
            chunks,
            BackwardByPlanes(
                pool: self, outputGrad: outputGrad, argmax: argmax, inputGrad: inputGrad, planes: planes, chunks: chunks))
    }

    /// The fewest planes worth a thread of their own (a 112x112 plane is about 10 us of work).
    static let planesPerChunk = 8

    /// The planes of `batch` images and how many chunks of at least `planesPerChunk` they make.
    func planeChunks(batch: Int, threads: Int) -> (planes: Int, chunks: Int) {
        let planes = batch * channels
        return (planes, max(1, min(threads, planes / Self.planesPerChunk)))
    }

    /// The window rows (or columns) `lo..<hi` of output row (or column) `o` that fall inside a side of `size`.
    @inline(__always)
    func window(_ o: Int, size: Int) -> (lo: Int, hi: Int) {
        let first = o * stride - padding
        return (max(first, 0), min(first + kernelSize, size))
    }

    struct ForwardByPlanes: ParallelRegion {
        let pool: MaxPool
        let input: UnsafePointer<Float>
        let output: UnsafeMutablePointer<Float>
        let argmax: UnsafeMutablePointer<Int32>
        let planes: Int
        let chunks: Int

        func run(chunk: Int) {
            let (h, w) = (pool.inHeight, pool.inWidth)
            let (oh, ow) = (pool.outHeight, pool.outWidth)
            for p in chunkRange(chunk, of: chunks, count: planes) {
                let x = input + p * h * w
                let y = output + p * oh * ow
                let at = argmax + p * oh * ow
                for oy in 0..<oh {
                    let rows = pool.window(oy, size: h)
                    for ox in 0..<ow {
                        let columns = pool.window(ox, size: w)
                        var bestIndex = rows.lo * w + columns.lo
                        var best = x[bestIndex]
                        for iy in rows.lo..<rows.hi {
                            for ix in columns.lo..<columns.hi {
                                let index = iy * w + ix
                                if x[index] > best {
                                    best = x[index]
                                    bestIndex = index
                                }
                            }
                        }
                        y[oy * ow + ox] = best
                        at[oy * ow + ox] = Int32(bestIndex)
                    }
                }
            }
        }
    }

    struct BackwardByPlanes: ParallelRegion {
        let pool: MaxPool
        let outputGrad: UnsafePointer<Float>
        let argmax: UnsafePointer<Int32>
        let inputGrad: UnsafeMutablePointer<Float>
        let planes: Int
        let chunks: Int

        func run(chunk: Int) {
            let plane = pool.inHeight * pool.inWidth
            let outPlane = pool.outHeight * pool.outWidth
            for p in chunkRange(chunk, of: chunks, count: planes) {
                let dx = inputGrad + p * plane
                dx.update(repeating: 0, count: plane)
                let dy = outputGrad + p * outPlane
                let at = argmax + p * outPlane
                for o in 0..<outPlane { dx[Int(at[o])] += dy[o] }
            }
        }
    }
}
