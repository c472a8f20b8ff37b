import Kernels
import Synchronization
import Testing

/// Serialized: tests here force the product width (TileProduct.forcedLanes), one width at a time.
@Suite(.serialized) struct ConvolutionTests {
    static let shapes: [(kernel: Int, stride: Int, cin: Int, cout: Int, size: Int)] = [
        (3, 1, 3, 4, 6), (3, 2, 3, 4, 7), (1, 1, 4, 3, 5), (1, 2, 4, 6, 6), (3, 2, 2, 4, 8),
        (3, 1, 5, 2, 4), (3, 1, 2, 3, 5), (3, 2, 2, 3, 20), (3, 2, 3, 2, 19),
        // stride 2 with the tile product in forward and backward-data; an ImageNet-style 7x7 stem
        (3, 2, 4, 8, 10), (3, 2, 4, 8, 9), (7, 2, 3, 4, 12), (7, 2, 2, 4, 11),
        // F(4x4, 3x3) forward and backward-data: 16 and 20 wide (SIMD4 lanes, then one tile at a time),
        // and with 2 output channels (sgemm instead of the tile product)
        (3, 1, 3, 4, 16), (3, 1, 2, 4, 20), (3, 1, 3, 2, 16),
        // more planes than one 8-lane weight transform: full groups, and backward-data's transposed
        // rows of 12 (a group of 8, then 4)
        (3, 1, 10, 12, 8), (3, 1, 12, 10, 16),
    ]
    static let algorithms = Convolution.Algorithm.allCases

    static func run(_ conv: Convolution, _ x: [Float], _ w: [Float], batch: Int, threads: Int = 1) -> [Float] {
        var y = [Float](repeating: .nan, count: batch * conv.outputSize)
        var ws = [Float](repeating: 0, count: conv.workspaceCount(threads: threads, batch: batch))
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                conv.forward(
                    input: xp.baseAddress!, weight: wp.baseAddress!, output: &y, batch: batch,
                    threads: threads, workspace: &ws)
            }
        }
        return y
    }

    /// Direct convolution, the definition.
    static func reference(_ conv: Convolution, _ x: [Float], _ w: [Float], batch: Int) -> [Float] {
        var y = [Float](repeating: 0, count: batch * conv.outputSize)
        let k = conv.kernelSize
        for n in 0..<batch {
            for o in 0..<conv.outChannels {
                for oy in 0..<conv.outHeight {
                    for ox in 0..<conv.outWidth {
                        var s: Double = 0
                        for c in 0..<conv.inChannels {
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let iy = oy * conv.stride - conv.padding + ky
                                    let ix = ox * conv.stride - conv.padding + kx
                                    guard iy >= 0, iy < conv.inHeight, ix >= 0, ix < conv.inWidth else { continue }
                                    s +=
                                        Double(x[((n * conv.inChannels + c) * conv.inHeight + iy) * conv.inWidth + ix])
                                        * Double(w[((o * conv.inChannels + c) * k + ky) * k + kx])
                                }
                            }
                        }
                        y[((n * conv.outChannels + o) * conv.outHeight + oy) * conv.outWidth + ox] = Float(s)
                    }
                }
            }
        }
        return y
    }

    static func make(
        _ s: (kernel: Int, stride: Int, cin: Int, cout: Int, size: Int),
        _ algorithm: Convolution.Algorithm? = nil
    ) -> Convolution {
        Convolution(
            inChannels: s.cin, outChannels: s.cout, kernelSize: s.kernel, stride: s.stride,
            padding: s.kernel / 2, inHeight: s.size, inWidth: s.size, algorithm: algorithm)
    }

    @Test func winogradWhereItApplies() {
        #expect(Self.make(Self.shapes[0]).algorithm == .winograd)
        #expect(Self.make(Self.shapes[0], .im2col).algorithm == .im2col)
        #expect(Self.make(Self.shapes[1], .winograd).algorithm == .im2col)  // stride 2
        #expect(Self.make(Self.shapes[2], .winograd).algorithm == .im2col)  // 1x1
        // Odd planes run on the plane grown to even sides (7x7 as 8x8 by F(2x2); 15x15 as 16x16 by F(4x4)).
        #expect(Self.make(Self.shapes[6], .winograd).algorithm == .winograd)
        #expect(Self.make((3, 1, 4, 4, 7)).shapeDescription == "3x3/1 4->4 7x7 F(2x2) on 8x8")
        #expect(Self.make((3, 1, 4, 4, 15)).shapeDescription == "3x3/1 4->4 15x15 F(4x4) on 16x16")
        #expect(Self.make((3, 1, 4, 4, 14)).shapeDescription == "3x3/1 4->4 14x14 F(2x2)")
    }

    @Test("forward equals the direct definition", arguments: 0..<shapes.count, algorithms)
    func forwardMatchesDefinition(_ index: Int, _ algorithm: Convolution.Algorithm) {
        let conv = Self.make(Self.shapes[index], algorithm)
        let batch = 3
        let x = randomValues(batch * conv.inputSize, seed: 1)
        let w = randomValues(conv.weightCount, seed: 2)
        let expected = Self.reference(conv, x, w, batch: batch)
        for (threads, lanes) in [(1, 16), (2, 16), (1, 8), (2, 8), (1, 4)] {
            TileProduct.forcedLanes.store(lanes, ordering: .relaxed)
            defer { TileProduct.forcedLanes.store(0, ordering: .relaxed) }
            let y = Self.run(conv, x, w, batch: batch, threads: threads)
            // Relative to the largest output: F(4x4)'s transforms (coefficients up to 8) round more
            // than a direct sum; measured about 3e-6 of the largest output on these shapes.
            let err = zip(y, expected).map { abs($0 - $1) }.max()! / expected.map { abs($0) }.max()!
            #expect(err < 1e-5, "threads \(threads), \(lanes) lanes: max error \(err) of the largest output")
        }
    }

    @Test("backward to input and weights against finite differences", arguments: 0..<shapes.count, algorithms)
    func backwardMatchesFiniteDifferences(_ index: Int, _ algorithm: Convolution.Algorithm) {
        let conv = Self.make(Self.shapes[index], algorithm)
        let batch = 2
        var x = randomValues(batch * conv.inputSize, seed: 3)
        var w = randomValues(conv.weightCount, seed: 4)
        let r = randomValues(batch * conv.outputSize, seed: 5)
        for (threads, lanes) in [(1, 16), (2, 8), (1, 4)] {
            TileProduct.forcedLanes.store(lanes, ordering: .relaxed)
            defer { TileProduct.forcedLanes.store(0, ordering: .relaxed) }
            var dx = [Float](repeating: .nan, count: x.count)
            var dw = [Float](repeating: .nan, count: w.count)
            var ws = [Float](repeating: 0, count: conv.workspaceCount(threads: threads, batch: batch))
            x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    r.withUnsafeBufferPointer { rp in
                        conv.backwardData(
                            outputGrad: rp.baseAddress!, weight: wp.baseAddress!, inputGrad: &dx, batch: batch,
                            accumulate: false, threads: threads, workspace: &ws)
                        conv.backwardWeights(
                            input: xp.baseAddress!, outputGrad: rp.baseAddress!, weightGrad: &dw, batch: batch,
                            threads: threads, workspace: &ws)
                    }
                }
            }
            let wFixed = w
            let xFixed = x
            let ex = finiteDifferenceError(values: &x, analytic: dx) {
                weightedSum(Self.run(conv, $0, wFixed, batch: batch), r)
            }
            let ew = finiteDifferenceError(values: &w, analytic: dw) {
                weightedSum(Self.run(conv, xFixed, $0, batch: batch), r)
            }
            #expect(ex < 1e-3, "input gradient relative error \(ex)")
            #expect(ew < 1e-3, "weight gradient relative error \(ew)")
        }
    }

    /// A CIFAR stage-1 layer (32x32: one image per Winograd group, so three images make three groups,
    /// split unevenly over two threads) and a 64x64 one (one image is more than the group budget).
    /// All three passes agree with im2col (itself checked above).
    @Test(
        "Winograd agrees with im2col on 16-channel 7x7 to 64x64 layers, with products of every vector width",
        arguments: [1, 2], [7, 8, 15, 16, 32, 64])
    func winogradMatchesIm2col(threads: Int, size: Int) {
        var results: [(y: [Float], dx: [Float], dw: [Float])] = []
        for lanes in [16, 8, 4] {
            TileProduct.forcedLanes.store(lanes, ordering: .relaxed)
            results.append(winogradMatchesIm2col(threads: threads, size: size, lanes: lanes))
        }
        TileProduct.forcedLanes.store(0, ordering: .relaxed)
        // Products and transforms give the same bits at every width (a run on AVX2 and AVX-512 nodes
        // trains alike).
        for r in results.dropFirst() {
            #expect(r.y == results[0].y && r.dx == results[0].dx && r.dw == results[0].dw)
        }
    }

    @discardableResult
    func winogradMatchesIm2col(threads: Int, size: Int, lanes: Int) -> (y: [Float], dx: [Float], dw: [Float]) {
        let shape = (kernel: 3, stride: 1, cin: 16, cout: 16, size: size)
        let fast = Self.make(shape, .winograd)
        let slow = Self.make(shape, .im2col)
        #expect(fast.algorithm == .winograd)
        let batch = 3
        let x = randomValues(batch * fast.inputSize, seed: 11)
        let w = randomValues(fast.weightCount, seed: 12)
        let dy = randomValues(batch * fast.outputSize, seed: 13)
        let a = Self.passes(fast, x, w, dy, batch: batch, threads: threads, accumulate: true)
        let b = Self.passes(slow, x, w, dy, batch: batch, threads: threads, accumulate: true)
        func relative(_ p: [Float], _ q: [Float]) -> Float {
            zip(p, q).map { abs($0 - $1) }.max()! / q.map { abs($0) }.max()!
        }
        #expect(relative(a.y, b.y) < 1e-5, "\(lanes) lanes")
        #expect(relative(a.dx, b.dx) < 1e-5, "\(lanes) lanes")
        #expect(relative(a.dw, b.dw) < 1e-5, "\(lanes) lanes")
        return a
    }

    /// Forward, backward-data (added to ones with `accumulate`) and backward-weights of `conv`.
    static func passes(
        _ conv: Convolution, _ x: [Float], _ w: [Float], _ dy: [Float], batch: Int, threads: Int,
        accumulate: Bool = false
    ) -> (y: [Float], dx: [Float], dw: [Float]) {
        var ws = [Float](repeating: 0, count: conv.workspaceCount(threads: threads, batch: batch))
        var y = [Float](repeating: .nan, count: dy.count)
        var dx = [Float](repeating: accumulate ? 1 : .nan, count: x.count)
        var dw = [Float](repeating: .nan, count: w.count)
        conv.forward(input: x, weight: w, output: &y, batch: batch, threads: threads, workspace: &ws)
        conv.backwardData(
            outputGrad: dy, weight: w, inputGrad: &dx, batch: batch, accumulate: accumulate,
            threads: threads, workspace: &ws)
        conv.backwardWeights(
            input: x, outputGrad: dy, weightGrad: &dw, batch: batch, threads: threads, workspace: &ws)
        return (y, dx, dw)
    }

    /// 32 x 32 channels (1,024 weight planes): the weight transforms and the weight gradient's last
    /// steps split over the threads too. Two threads give the bits of one for the output and the input
    /// gradient, and a weight gradient that agrees with im2col, on an F(2x2) and an F(4x4) layer.
    @Test(arguments: [8, 16])
    func weightTransformsSplitOverThreads(size: Int) {
        let shape = (kernel: 3, stride: 1, cin: 32, cout: 32, size: size)
        let fast = Self.make(shape, .winograd)
        let batch = 3
        let x = randomValues(batch * fast.inputSize, seed: 21)
        let w = randomValues(fast.weightCount, seed: 22)
        let dy = randomValues(batch * fast.outputSize, seed: 23)
        let one = Self.passes(fast, x, w, dy, batch: batch, threads: 1)
        let two = Self.passes(fast, x, w, dy, batch: batch, threads: 2)
        let slow = Self.passes(Self.make(shape, .im2col), x, w, dy, batch: batch, threads: 1)
        #expect(two.y == one.y && two.dx == one.dx)
        let scale = slow.dw.map { abs($0) }.max()!
        #expect(zip(two.dw, slow.dw).map { abs($0 - $1) }.max()! / scale < 1e-5)
    }

    @Test func accumulateAddsToInputGradient() {
        let conv = Self.make(Self.shapes[0])
        let r = randomValues(conv.outputSize, seed: 6)
        let w = randomValues(conv.weightCount, seed: 7)
        var ws = [Float](repeating: 0, count: conv.workspaceCount(threads: 1, batch: 1))
        var fresh = [Float](repeating: 0, count: conv.inputSize)
        var accumulated = [Float](repeating: 1, count: conv.inputSize)
        conv.backwardData(
            outputGrad: r, weight: w, inputGrad: &fresh, batch: 1, accumulate: false, threads: 1, workspace: &ws)
        conv.backwardData(
            outputGrad: r, weight: w, inputGrad: &accumulated, batch: 1, accumulate: true, threads: 1, workspace: &ws)
        for i in 0..<conv.inputSize { #expect(abs(accumulated[i] - (fresh[i] + 1)) < 1e-6) }
    }
}

/// The thread count never changes the bits: every pass, both algorithms, batches from 0 to more
/// images than Winograd groups, 1 to 4 threads (fewer images than threads included).
struct ConvolutionThreadTests {
    @Test(arguments: [
        (3, 1, 16, 16, 8), (3, 1, 32, 32, 8), (3, 1, 16, 16, 16), (3, 1, 3, 16, 32), (3, 2, 16, 32, 16),
        (1, 2, 16, 32, 16), (3, 1, 16, 16, 7), (3, 1, 8, 16, 15),
    ])
    func bitsDoNotDependOnTheThreadCount(shape: (Int, Int, Int, Int, Int)) {
        let s = (kernel: shape.0, stride: shape.1, cin: shape.2, cout: shape.3, size: shape.4)
        for algorithm in Convolution.Algorithm.allCases {
            let conv = ConvolutionTests.make(s, algorithm)
            for batch in [0, 1, 2, 3, 5, 9] {
                let x = randomValues(max(1, batch) * conv.inputSize, seed: 31)
                let w = randomValues(conv.weightCount, seed: 32)
                let dy = randomValues(max(1, batch) * conv.outputSize, seed: 33)
                let one = ConvolutionTests.passes(conv, x, w, dy, batch: batch, threads: 1)
                for threads in 2...4 {
                    let many = ConvolutionTests.passes(conv, x, w, dy, batch: batch, threads: threads)
                    let n = batch
                    #expect(
                        many.y.prefix(n * conv.outputSize).elementsEqual(one.y.prefix(n * conv.outputSize), by: Self.same)
                            && many.dx.prefix(n * conv.inputSize).elementsEqual(one.dx.prefix(n * conv.inputSize), by: Self.same),
                        "\(algorithm) \(shape) batch \(batch): \(threads) threads")
                    #expect(many.dw.elementsEqual(one.dw, by: Self.same), "\(algorithm) \(shape) batch \(batch): dw at \(threads) threads")
                }
                if batch == 0 { #expect(one.dw.allSatisfy { $0 == 0 }) }
            }
        }
    }

    static func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern }

    /// An image's forward output and input gradient do not depend on the other images of its
    /// batch (what lets N ranks of B/N images compute what one rank of B does): batch 4 against
    /// batches 1 and 3 of the same images, on F(2x2), F(4x4), odd planes and im2col.
    @Test(arguments: [
        (3, 1, 16, 16, 8), (3, 1, 16, 16, 16), (3, 1, 16, 16, 7), (3, 1, 8, 16, 15), (3, 2, 16, 32, 16),
        (3, 1, 256, 256, 7), (3, 1, 128, 128, 14),
    ])
    func anImageDoesNotDependOnItsBatch(shape: (Int, Int, Int, Int, Int)) {
        let s = (kernel: shape.0, stride: shape.1, cin: shape.2, cout: shape.3, size: shape.4)
        let conv = ConvolutionTests.make(s)
        let x = randomValues(4 * conv.inputSize, seed: 51)
        let w = randomValues(conv.weightCount, seed: 52)
        let dy = randomValues(4 * conv.outputSize, seed: 53)
        let whole = ConvolutionTests.passes(conv, x, w, dy, batch: 4, threads: 1)
        let first = ConvolutionTests.passes(
            conv, Array(x.prefix(conv.inputSize)), w, Array(dy.prefix(conv.outputSize)), batch: 1, threads: 1)
        let rest = ConvolutionTests.passes(
            conv, Array(x.dropFirst(conv.inputSize)), w, Array(dy.dropFirst(conv.outputSize)), batch: 3, threads: 2)
        #expect((first.y + rest.y).elementsEqual(whole.y, by: Self.same), "\(shape): forward")
        #expect((first.dx + rest.dx).elementsEqual(whole.dx, by: Self.same), "\(shape): backward-data")
    }
}
