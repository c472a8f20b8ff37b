/// Rectified linear unit on any float32 tensor, element-wise, in SIMD lanes, split over `threads`
/// (element-wise, so the split never changes a result).
public enum ReLU {
    typealias L = Vector.Lanes

    /// `output = max(0, input)`; `output` may alias `input` (in place).
    public static func forward(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int,
        threads: Int = 1
    ) {
        let split = Elementwise.Split(count: count, threads: threads)
        parallelChunks(split.chunks, Forward(split: split, input: input, output: output))
    }

    /// `y = max(0, y + x)`: a residual block's shortcut addition and final ReLU in one pass.
    public static func addForward(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
        threads: Int = 1
    ) {
        let split = Elementwise.Split(count: count, threads: threads)
        parallelChunks(split.chunks, AddForward(split: split, x: x, y: y))
    }

    /// `inputGrad = outputGrad where output > 0, else 0`, from the forward *output*;
    /// `inputGrad` may alias `outputGrad`. With `copy`, the result is also written there (the gradient
    /// a residual block passes down its identity shortcut), in the same pass.
    public static func backward(
        output: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>,
        inputGrad: UnsafeMutablePointer<Float>, copy: UnsafeMutablePointer<Float>? = nil,
        count: Int, threads: Int = 1
    ) {
        let split = Elementwise.Split(count: count, threads: threads)
        parallelChunks(
            split.chunks,
            Backward(split: split, output: output, outputGrad: outputGrad, inputGrad: inputGrad, copy: copy))
    }

    struct Forward: ParallelRegion {
        let split: Elementwise.Split
        let input: UnsafePointer<Float>
        let output: UnsafeMutablePointer<Float>

        func run(chunk t: Int) {
            let range = split.range(chunk: t)
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

    struct AddForward: ParallelRegion {
        let split: Elementwise.Split
        let x: UnsafePointer<Float>
        let y: UnsafeMutablePointer<Float>

        func run(chunk t: Int) {
            let range = split.range(chunk: t)
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

    struct Backward: ParallelRegion {
        let split: Elementwise.Split
        let output: UnsafePointer<Float>
        let outputGrad: UnsafePointer<Float>
        let inputGrad: UnsafeMutablePointer<Float>
        let copy: UnsafeMutablePointer<Float>?

        func run(chunk t: Int) {
            let range = split.range(chunk: t)
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

/// Element-wise helpers.
public enum Elementwise {
    /// Contiguous ranges covering `0..<count`, one per thread, starting at multiples of 64 elements;
    /// small counts stay on the calling thread (one chunk).
    struct Split {
        let count: Int
        let chunks: Int

        init(count: Int, threads: Int) {
            self.count = count
            chunks = count < 1 << 15 ? 1 : max(1, threads)
        }

        /// The elements of chunk `t`.
        @inline(__always) func range(chunk t: Int) -> Range<Int> {
            let r = chunkRange(t, of: chunks, count: (count + 63) / 64)
            return r.lowerBound * 64..<min(count, r.upperBound * 64)
        }
    }
}
