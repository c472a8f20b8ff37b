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
}
