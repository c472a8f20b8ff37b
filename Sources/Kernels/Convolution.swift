/// 2-D convolution without bias on float32 NCHW tensors (batch, channels, height, width,
/// row-major), weights laid out [out channels, in channels, kernel height, kernel width].
/// Square kernels, equal stride and zero padding on both axes.
///
/// Two algorithms. `.im2col`: each image is one GEMM, `Y[Cout, P] = W[Cout, K] * col[K, P]` with
/// `K = Cin*k*k` and `P = Hout*Wout`; `col` is the image unrolled by im2col (not needed for a 1x1
/// stride-1 conv). `.winograd`: for stride-1, padding-1 3x3 convolutions (odd planes run on the plane
/// grown to even sides, `Convolution+EvenPlane`), the
/// default wherever it applies: forward and backward-data by F(4x4, 3x3) (`Winograd4`, 4x fewer
/// multiplies) on planes whose sides are multiples of 4 and at least 16 wide, else by F(2x2, 3x3)
/// (`Winograd`, 2.25x fewer); backward-weights always by F(2x2, 3x3).
/// Images are split into contiguous chunks, one per thread, each with its own workspace.
public struct Convolution: Sendable, Equatable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case im2col, winograd
    }

    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int
    public let inHeight: Int
    public let inWidth: Int
    /// The algorithm the passes use (`.im2col` where Winograd does not apply).
    public let algorithm: Algorithm

    /// `algorithm` nil picks Winograd where it applies; asking for it where it does not gives im2col.
    public init(
        inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int, padding: Int,
        inHeight: Int, inWidth: Int, algorithm: Algorithm? = nil
    ) {
        precondition(kernelSize > 0 && stride > 0 && padding >= 0)
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.inHeight = inHeight
        self.inWidth = inWidth
        let winogradApplies =
            kernelSize == 3 && stride == 1 && padding == 1 && inHeight >= 2 && inWidth >= 2
        self.algorithm = algorithm != .im2col && winogradApplies ? .winograd : .im2col
    }

    var winograd: Winograd? {
        algorithm == .winograd && inHeight % 2 == 0 && inWidth % 2 == 0 ? Winograd(self) : nil
    }
    var winograd4: Winograd4? {
        algorithm == .winograd && Winograd4.applies(height: inHeight, width: inWidth) ? Winograd4(self) : nil
    }
    /// Floats of the transformed weights of whichever Winograd the forward passes use.
    var transformedWeightCount: Int { winograd4?.transformedWeightCount ?? winograd?.transformedWeightCount ?? 0 }

    /// `output (+)= conv(input)` by Winograd with `weight` in its [Cout][Cin][3][3] layout, or read
    /// as `layout` says; `u` holds `transformedWeightCount` floats for the transformed weights.
    func winogradForward(
        input: UnsafePointer<Float>, weight: UnsafePointer<Float>, layout: KernelLayout = .direct,
        output: UnsafeMutablePointer<Float>,
        batch: Int, accumulate: Bool, threads: Int, workspace: UnsafeMutablePointer<Float>,
        u: UnsafeMutablePointer<Float>
    ) {
        let plane = outChannels * inChannels
        let planeChunks = Winograd.weightTransformChunks(plane: plane, threads: threads)
        if let winograd4 {
            parallelChunks(
                planeChunks, WeightTransform(
                    fourByFour: true, weight: weight, layout: layout, u: u, conv: self, chunks: planeChunks))
            winograd4.forward(
                input: input, transformedWeight: u, output: output, batch: batch, accumulate: accumulate,
                threads: threads, workspace: workspace)
        } else if let winograd {
            parallelChunks(
                planeChunks, WeightTransform(
                    fourByFour: false, weight: weight, layout: layout, u: u, conv: self, chunks: planeChunks))
            winograd.forward(
                input: input, transformedWeight: u, output: output, batch: batch, accumulate: accumulate,
                threads: threads, workspace: workspace)
        }
    }

    /// The layer's shape and the forward pass's kernel, e.g. `3x3/1 64->64 56x56 F(4x4)`, for profiles.
    public var shapeDescription: String {
        let runs = evenPlane ?? self
        var kernel = runs.winograd4 != nil ? "F(4x4)" : runs.winograd != nil ? "F(2x2)" : "im2col"
        if runs != self { kernel += " on \(runs.inHeight)x\(runs.inWidth)" }
        return "\(kernelSize)x\(kernelSize)/\(stride) \(inChannels)->\(outChannels) \(inHeight)x\(inWidth) \(kernel)"
    }

    public var outHeight: Int { (inHeight + 2 * padding - kernelSize) / stride + 1 }
    public var outWidth: Int { (inWidth + 2 * padding - kernelSize) / stride + 1 }
    /// Elements of one input image, `Cin*H*W`.
    public var inputSize: Int { inChannels * inHeight * inWidth }
    /// Elements of one output image, `Cout*Hout*Wout`.
    public var outputSize: Int { outChannels * outPixels }
    public var outPixels: Int { outHeight * outWidth }
    /// Rows of the im2col matrix, `Cin*k*k`.
    public var columnRows: Int { inChannels * kernelSize * kernelSize }
    public var weightCount: Int { outChannels * columnRows }
    /// Multiply-adds of the forward pass for one image.
    public var macsPerImage: Int { outputSize * columnRows }
    var usesColumns: Bool { !(kernelSize == 1 && stride == 1 && padding == 0) }

    /// Backward-data of a stride-1 convolution that keeps the size is itself a convolution of the
    /// output gradient with the flipped, transposed kernel: a forward-shaped GEMM with no col2im.
    var backwardDataAsConvolution: Bool { stride == 1 && usesColumns && 2 * padding == kernelSize - 1 }

    /// The convolution that computes backward-data when `backwardDataAsConvolution`.
    var transposed: Convolution {
        Convolution(
            inChannels: outChannels, outChannels: inChannels, kernelSize: kernelSize, stride: 1,
            padding: padding, inHeight: outHeight, inWidth: outWidth, algorithm: algorithm)
    }

    /// Floats of one thread's slice of the workspace.
    /// Layout: the im2col matrix, the phase planes (stride 2), a partial weight gradient.
    var perThreadWorkspace: Int {
        if let winograd { return max(winograd.perThreadWorkspace, winograd4?.perThreadWorkspace ?? 0) }
        return columnFloats + phaseCount + weightCount
    }

    var columnFloats: Int { usesColumns ? max(columnRows, outChannels * kernelSize * kernelSize) * outPixels : 0 }

    /// Products whose im2col matrix stays in L2 use `TileProduct` (OpenBLAS spends as long packing as
    /// multiplying on these skinny shapes); larger ones (ImageNet planes) keep sgemm's cache blocking.
    func tileProductFits(rows: Int) -> Bool {
        TileProduct.supports(rows: rows) && columnRows * outPixels <= 1 << 16
    }

    /// Floats of workspace that `threads` threads need for any of the three passes on up to `batch`
    /// images: a slot per thread, then the transformed and flipped weights of the data passes or the
    /// weight gradient's kept products (per group for Winograd, per image for im2col).
    public func workspaceCount(threads: Int, batch: Int) -> Int {
        if let even = evenPlane { return evenPlaneWorkspaceCount(even, threads: threads, batch: batch) }
        let keptProducts = winograd?.gradientGroupStorage(batch: batch) ?? batch * weightCount
        return threads * perThreadWorkspace + max(transformedWeightCount + weightCount, keptProducts)
    }

    /// Forward: `output[n] = W * input[n]`. input is [batch, Cin, H, W], output [batch, Cout, Hout, Wout].
    public func forward(
        input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, batch: Int,
        threads: Int, workspace: UnsafeMutablePointer<Float>
    ) {
        if let even = evenPlane {
            return forwardOnEvenPlane(
                even, input: input, weight: weight, output: output, batch: batch, threads: threads,
                workspace: workspace)
        }
        let chunks = max(1, min(threads, batch))
        let perThread = perThreadWorkspace
        if winograd != nil {
            winogradForward(
                input: input, weight: weight, output: output, batch: batch, accumulate: false,
                threads: threads, workspace: workspace, u: workspace + threads * perThread)
            return
        }
        parallelChunks(
            chunks,
            ForwardByImages(
                conv: self, input: input, weight: weight, output: output, workspace: workspace, perThread: perThread,
                batch: batch, chunks: chunks))
    }

    /// Backward to the input: `inputGrad[n] (+)= col2im(W^T * outputGrad[n])`.
    /// With `accumulate` the result is added to what `inputGrad` holds.
    public func backwardData(
        outputGrad: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        inputGrad: UnsafeMutablePointer<Float>, batch: Int, accumulate: Bool,
        threads: Int, workspace: UnsafeMutablePointer<Float>
    ) {
        if let even = evenPlane {
            return backwardDataOnEvenPlane(
                even, outputGrad: outputGrad, weight: weight, inputGrad: inputGrad, batch: batch,
                accumulate: accumulate, threads: threads, workspace: workspace)
        }
        let chunks = max(1, min(threads, batch))
        let perThread = perThreadWorkspace
        if winograd != nil {
            // The transposed convolution's transform reads the kernels flipped, in place.
            let u = workspace + threads * perThread
            transposed.winogradForward(
                input: outputGrad, weight: weight,
                layout: .flippedTransposed(outChannels: outChannels, inChannels: inChannels), output: inputGrad,
                batch: batch,
                accumulate: accumulate, threads: threads, workspace: workspace, u: u)
            return
        }
        if backwardDataAsConvolution {
            let flipped = workspace + chunks * perThread
            flipTransposed(weight, into: flipped)
            parallelChunks(
                chunks,
                BackwardDataAsConvolution(
                    conv: self, transposed: transposed, outputGrad: outputGrad, flipped: flipped, inputGrad: inputGrad,
                    workspace: workspace, perThread: perThread, batch: batch, chunks: chunks, accumulate: accumulate))
            return
        }
        // W^T, row-major, for the tile product.
        let transposedWeight = workspace + chunks * perThread
        let useTileProduct = usesColumns && tileProductFits(rows: columnRows)
        if useTileProduct {
            for co in 0..<outChannels {
                for r in 0..<columnRows { transposedWeight[r * outChannels + co] = weight[co * columnRows + r] }
            }
        }
        parallelChunks(
            chunks,
            BackwardDataByImages(
                conv: self, outputGrad: outputGrad, weight: weight, transposedWeight: transposedWeight,
                inputGrad: inputGrad, workspace: workspace, perThread: perThread, batch: batch, chunks: chunks,
                accumulate: accumulate, useTileProduct: useTileProduct))
    }

    /// Backward to the weights: `weightGrad = sum_n outputGrad[n] * col(input[n])^T` (overwrites).
    /// Each image's product is taken alone and the products are added in image order, whatever the
    /// thread count, so the bits do not depend on it: the first thread adds its images' products as it
    /// goes, the others keep theirs (after the slots) to be added in order after.
    public func backwardWeights(
        input: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>,
        weightGrad: UnsafeMutablePointer<Float>, batch: Int,
        threads: Int, workspace: UnsafeMutablePointer<Float>
    ) {
        if let even = evenPlane {
            return backwardWeightsOnEvenPlane(
                even, input: input, outputGrad: outputGrad, weightGrad: weightGrad, batch: batch, threads: threads,
                workspace: workspace)
        }
        if let winograd {
            winograd.backwardWeights(
                input: input, outputGrad: outputGrad, weightGrad: weightGrad, batch: batch,
                threads: threads, workspace: workspace)
            return
        }
        let chunks = max(1, min(threads, batch))
        let perThread = perThreadWorkspace
        let columnCount = perThread - weightCount
        let kept = workspace + threads * perThread
        let keptFrom = chunkRange(0, of: chunks, count: batch).upperBound
        if batch == 0 { weightGrad.update(repeating: 0, count: weightCount) }
        parallelChunks(
            chunks,
            WeightGradientByImages(
                conv: self, input: input, outputGrad: outputGrad, weightGrad: weightGrad, workspace: workspace,
                kept: kept, perThread: perThread, columnCount: columnCount, batch: batch, chunks: chunks))
        for n in keptFrom..<batch {
            let product = kept + n * weightCount
            for i in 0..<weightCount { weightGrad[i] += product[i] }
        }
    }
}

// The parallel regions of the convolution passes: chunk t takes a contiguous run of images (or, for
// the weight transform, of (output, input) channel planes) and the t-th slot of the workspace.
extension Convolution {
    /// U = G g G^T for a run of planes, by F(4x4) or F(2x2).
    struct WeightTransform: ParallelRegion {
        let fourByFour: Bool
        let weight: UnsafePointer<Float>
        let layout: KernelLayout
        let u: UnsafeMutablePointer<Float>
        let conv: Convolution
        let chunks: Int

        func run(chunk t: Int) {
            let planes = chunkRange(t, of: chunks, count: conv.outChannels * conv.inChannels)
            if fourByFour {
                Winograd4.transformWeights(
                    weight, outChannels: conv.outChannels, inChannels: conv.inChannels, into: u, planes: planes,
                    layout: layout)
            } else {
                Winograd.transformWeights(
                    weight, outChannels: conv.outChannels, inChannels: conv.inChannels, into: u, planes: planes,
                    layout: layout)
            }
        }
    }

    /// `output[n] = W * col(input[n])` (im2col, then the tile product or sgemm).
    struct ForwardByImages: ParallelRegion {
        let conv: Convolution
        let input: UnsafePointer<Float>
        let weight: UnsafePointer<Float>
        let output: UnsafeMutablePointer<Float>
        let workspace: UnsafeMutablePointer<Float>
        let perThread: Int
        let batch: Int
        let chunks: Int

        func run(chunk t: Int) {
            let column = workspace + t * perThread
            for n in chunkRange(t, of: chunks, count: batch) {
                let x = input + n * conv.inputSize
                var b = x
                if conv.usesColumns {
                    conv.im2col(x, column, planes: column + conv.columnFloats)
                    b = UnsafePointer(column)
                }
                if conv.tileProductFits(rows: conv.outChannels) {
                    TileProduct.multiply(
                        rows: conv.outChannels, inner: conv.columnRows, tiles: conv.outPixels, u: weight, v: b,
                        m: output + n * conv.outputSize)
                } else {
                    sgemm(
                        transposeA: false, transposeB: false, m: conv.outChannels, n: conv.outPixels,
                        k: conv.columnRows, a: weight, lda: conv.columnRows, b: b, ldb: conv.outPixels,
                        beta: 0, c: output + n * conv.outputSize, ldc: conv.outPixels)
                }
            }
        }
    }

    /// `inputGrad[n] (+)= conv(outputGrad[n], flipped W^T)`: backward-data of a size-keeping
    /// stride-1 convolution as a forward-shaped GEMM.
    struct BackwardDataAsConvolution: ParallelRegion {
        let conv: Convolution
        let transposed: Convolution
        let outputGrad: UnsafePointer<Float>
        let flipped: UnsafeMutablePointer<Float>
        let inputGrad: UnsafeMutablePointer<Float>
        let workspace: UnsafeMutablePointer<Float>
        let perThread: Int
        let batch: Int
        let chunks: Int
        let accumulate: Bool

        func run(chunk th: Int) {
            let t = transposed
            let column = workspace + th * perThread
            for n in chunkRange(th, of: chunks, count: batch) {
                t.im2col(outputGrad + n * conv.outputSize, column, planes: column + t.columnFloats)
                sgemm(
                    transposeA: false, transposeB: false, m: conv.inChannels, n: t.outPixels, k: t.columnRows,
                    a: flipped, lda: t.columnRows, b: column, ldb: t.outPixels,
                    beta: accumulate ? 1 : 0, c: inputGrad + n * conv.inputSize, ldc: t.outPixels)
            }
        }
    }

    /// `inputGrad[n] (+)= col2im(W^T * outputGrad[n])`.
    struct BackwardDataByImages: ParallelRegion {
        let conv: Convolution
        let outputGrad: UnsafePointer<Float>
        let weight: UnsafePointer<Float>
        let transposedWeight: UnsafeMutablePointer<Float>
        let inputGrad: UnsafeMutablePointer<Float>
        let workspace: UnsafeMutablePointer<Float>
        let perThread: Int
        let batch: Int
        let chunks: Int
        let accumulate: Bool
        let useTileProduct: Bool

        func run(chunk t: Int) {
            let (columnRows, outPixels, outChannels) = (conv.columnRows, conv.outPixels, conv.outChannels)
            let column = workspace + t * perThread
            for n in chunkRange(t, of: chunks, count: batch) {
                let dy = outputGrad + n * conv.outputSize
                let dx = inputGrad + n * conv.inputSize
                if conv.usesColumns {
                    if useTileProduct {
                        TileProduct.multiply(
                            rows: columnRows, inner: outChannels, tiles: outPixels,
                            u: transposedWeight, v: dy, m: column)
                    } else {
                        sgemm(
                            transposeA: true, transposeB: false, m: columnRows, n: outPixels, k: outChannels,
                            a: weight, lda: columnRows, b: dy, ldb: outPixels,
                            beta: 0, c: column, ldc: outPixels)
                    }
                    if !accumulate { dx.update(repeating: 0, count: conv.inputSize) }
                    conv.col2im(column, dx, planes: column + conv.columnFloats)
                } else {
                    sgemm(
                        transposeA: true, transposeB: false, m: columnRows, n: outPixels, k: outChannels,
                        a: weight, lda: columnRows, b: dy, ldb: outPixels,
                        beta: accumulate ? 1 : 0, c: dx, ldc: outPixels)
                }
            }
        }
    }

    /// Each image's `outputGrad[n] * col(input[n])^T`: the first chunk adds its images' products
    /// into `weightGrad` as it goes, the others keep theirs (`kept`) to be added in image order after.
    struct WeightGradientByImages: ParallelRegion {
        let conv: Convolution
        let input: UnsafePointer<Float>
        let outputGrad: UnsafePointer<Float>
        let weightGrad: UnsafeMutablePointer<Float>
        let workspace: UnsafeMutablePointer<Float>
        let kept: UnsafeMutablePointer<Float>
        let perThread: Int
        let columnCount: Int
        let batch: Int
        let chunks: Int

        func run(chunk t: Int) {
            let weightCount = conv.weightCount
            let column = workspace + t * perThread
            let partial = column + columnCount
            for n in chunkRange(t, of: chunks, count: batch) {
                let x = input + n * conv.inputSize
                var b = x
                if conv.usesColumns {
                    conv.im2col(x, column, planes: column + conv.columnFloats)
                    b = UnsafePointer(column)
                }
                let product = t == 0 ? (n == 0 ? weightGrad : partial) : kept + n * weightCount
                sgemm(
                    transposeA: false, transposeB: true, m: conv.outChannels, n: conv.columnRows, k: conv.outPixels,
                    a: outputGrad + n * conv.outputSize, lda: conv.outPixels, b: b, ldb: conv.outPixels,
                    beta: 0, c: product, ldc: conv.columnRows)
                if t == 0 && n > 0 { for i in 0..<weightCount { weightGrad[i] += partial[i] } }
            }
        }
    }
}
