import Testing

@testable import Kernels

/// The Winograd product kernel at every vector width, on any machine: 16 lanes (AVX-512's), 8
/// (AVX2's) and 4 (NEON's). A width the CPU lacks is emulated by the compiler, slower but exact.
struct TileProductTests {
    func random(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 2001 - 1000) / 997
        }
    }

    /// Each output as one chain of fused multiply-adds over C in order: what every width must give.
    func reference(rows: Int, inner: Int, tiles: Int, _ u: [Float], _ v: [Float]) -> [Float] {
        var m = [Float](repeating: 0, count: rows * tiles)
        for k in 0..<rows {
            for t in 0..<tiles {
                var sum: Float = 0
                for c in 0..<inner { sum = sum.addingProduct(u[k * inner + c], v[c * tiles + t]) }
                m[k * tiles + t] = sum
            }
        }
        return m
    }

    func product<W: ProductLanes>(
        _ lanes: W.Type, rows: Int, inner: Int, tiles: Int, _ u: [Float], _ v: [Float]
    )
        -> [Float]
    {
        var m = [Float](repeating: .nan, count: rows * tiles)
        m.withUnsafeMutableBufferPointer { out in
            TileProduct.multiply(W.self, rows: rows, inner: inner, tiles: tiles, u: u, v: v, m: out.baseAddress!)
        }
        return m
    }

    // Tile counts that reach every block: 4 x 16, 3 x 16, 2 x 16, 16, 8, 4 and single tiles.
    @Test(arguments: [1, 5, 12, 29, 64, 77, 113, 200])
    func everyWidthGivesTheSameBitsAsOneChainOfFMAs(tiles: Int) {
        for (rows, inner) in [(4, 3), (8, 16), (16, 32)] {
            let u = random(rows * inner, seed: UInt64(tiles * 31 + rows))
            let v = random(inner * tiles, seed: UInt64(tiles * 17 + inner))
            let expected = reference(rows: rows, inner: inner, tiles: tiles, u, v)
            #expect(product(SIMD16<Float>.self, rows: rows, inner: inner, tiles: tiles, u, v) == expected)
            #expect(product(SIMD8<Float>.self, rows: rows, inner: inner, tiles: tiles, u, v) == expected)
            #expect(product(SIMD4<Float>.self, rows: rows, inner: inner, tiles: tiles, u, v) == expected)
            // And the width this build dispatches to.
            var m = [Float](repeating: .nan, count: rows * tiles)
            m.withUnsafeMutableBufferPointer {
                TileProduct.multiply(rows: rows, inner: inner, tiles: tiles, u: u, v: v, m: $0.baseAddress!)
            }
            #expect(m == expected)
        }
    }

    /// The weight-gradient product: 4 x 4 blocks (32 registers) and 4 x 2 blocks give the same bits,
    /// and both are the dot products (to float rounding of a sum over T).
    @Test(arguments: [1, 7, 8, 29, 200, 1031])
    func weightGradientBlocksGiveTheSameBits(tiles: Int) {
        for (rows, cols) in [(4, 4), (8, 6), (16, 16), (4, 3)] {
            let z = random(rows * tiles, seed: UInt64(tiles * 13 + rows))
            let v = random(cols * tiles, seed: UInt64(tiles * 7 + cols))
            let start = random(rows * cols, seed: 99)
            for accumulate in [false, true] {
                func run(wide: Bool) -> [Float] {
                    var d = start
                    d.withUnsafeMutableBufferPointer {
                        TileProduct.multiplyTransposed(
                            rows: rows, cols: cols, tiles: tiles, z: z, v: v, d: $0.baseAddress!,
                            accumulate: accumulate, wide: wide)
                    }
                    return d
                }
                let wide = run(wide: true)
                #expect(wide == run(wide: false), "rows \(rows) cols \(cols) accumulate \(accumulate)")
                for k in 0..<rows {
                    for c in 0..<cols {
                        var exact = accumulate ? Double(start[k * cols + c]) : 0
                        for t in 0..<tiles { exact += Double(z[k * tiles + t]) * Double(v[c * tiles + t]) }
                        #expect(abs(Double(wide[k * cols + c]) - exact) <= 1e-5 * Double(tiles + 1) * 10)
                    }
                }
            }
        }
    }
}
