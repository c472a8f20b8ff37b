/// Rectified linear unit on any float32 tensor, element-wise, in SIMD lanes, split over `threads`
/// (element-wise, so the split never changes a result).
public enum ReLU {
    typealias L = Vector.Lanes

    /// `output = max(0, input)`; `output` may alias `input` (in place).
    public static func forward(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int,
        threads: Int = 1
    ) {
        Elementwise.split(count, threads, Forward(input: input, output: output))
    }

    /// `y = max(0, y + x)`: a residual block's shortcut addition and final ReLU in one pass.
    public static func addForward(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
        threads: Int = 1
    ) {
        Elementwise.split(count, threads, AddForward(x: x, y: y))
    }

    /// `inputGrad = outputGrad where output > 0, else 0`, from the forward *output*;
    /// `inputGrad` may alias `outputGrad`. With `copy`, the result is also written there (the gradient
    /// a residual block passes down its identity shortcut), in the same pass.
    public static func backward(
        output: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>,
        inputGrad: UnsafeMutablePointer<Float>, copy: UnsafeMutablePointer<Float>? = nil,
        count: Int, threads: Int = 1
    ) {
        Elementwise.split(count, threads, Backward(output: output, outputGrad: outputGrad, inputGrad: inputGrad, copy: copy))
    }

    struct Forward: ElementwisePass {
        let input: UnsafePointer<Float>
        let output: UnsafeMutablePointer<Float>

        @inline(__always) func run(_ range: Range<Int>) {
            let zero = L(repeating: 0)
            var i = range.lowerBound
            while i + L.scalarCount <= range.upperBound {
                Vector.store(pointwiseMax(Vector.load(input + i), zero), output + i)
                i += L.scalarCount
            }
            while i < range.upperBound {
                output[i] = max(0, input[i])
                i += 1
            }
        }
    }

    struct AddForward: ElementwisePass {
        let x: UnsafePointer<Float>
        let y: UnsafeMutablePointer<Float>

        @inline(__always) func run(_ range: Range<Int>) {
            let zero = L(repeating: 0)
            var i = range.lowerBound
            while i + L.scalarCount <= range.upperBound {
                Vector.store(pointwiseMax(Vector.load(y + i) + Vector.load(x + i), zero), y + i)
                i += L.scalarCount
            }
            while i < range.upperBound {
                y[i] = max(0, y[i] + x[i])
                i += 1
            }
        }
    }

    struct Backward: ElementwisePass {
        let output: UnsafePointer<Float>
        let outputGrad: UnsafePointer<Float>
        let inputGrad: UnsafeMutablePointer<Float>
        let copy: UnsafeMutablePointer<Float>?

        @inline(__always) func run(_ range: Range<Int>) {
            let zero = L(repeating: 0)
            var i = range.lowerBound
            while i + L.scalarCount <= range.upperBound {
                let g = Vector.load(outputGrad + i).replacing(with: zero, where: Vector.load(output + i) .<= zero)
                Vector.store(g, inputGrad + i)
                if let copy { Vector.store(g, copy + i) }
                i += L.scalarCount
            }
            while i < range.upperBound {
                let g = output[i] > 0 ? outputGrad[i] : 0
                inputGrad[i] = g
                copy?[i] = g
                i += 1
            }
        }
    }
}

/// An element-wise pass over part of a tensor: what `Elementwise.split` hands each thread.
protocol ElementwisePass {
    func run(_ range: Range<Int>)
}

/// Element-wise helpers.
public enum Elementwise {
    /// Runs `pass` on contiguous ranges covering `0..<count`, one per thread; small counts stay on
    /// the calling thread. Ranges start at multiples of 64 elements.
    @inline(__always)
    static func split<Pass: ElementwisePass>(_ count: Int, _ threads: Int, _ pass: Pass) {
        let chunks = count < 1 << 15 ? 1 : max(1, threads)
        parallelChunks(chunks, Ranges(pass: pass, count: count, blocks: (count + 63) / 64, chunks: chunks))
    }

    /// Chunk t: the t-th run of 64-element blocks.
    struct Ranges<Pass: ElementwisePass>: ParallelRegion {
        let pass: Pass
        let count: Int
        let blocks: Int
        let chunks: Int

        @inline(__always) func run(chunk t: Int) {
            let r = chunkRange(t, of: chunks, count: blocks)
            pass.run(r.lowerBound * 64..<min(count, r.upperBound * 64))
        }
    }
}
