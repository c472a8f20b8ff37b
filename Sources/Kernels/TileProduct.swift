import Synchronization

/// The product at the heart of a Winograd convolution, `M (rows x T) = U (rows x C) * V (C x T)`,
/// row-major with leading dimensions C and T, for the short inner dimension of a CIFAR layer
/// (C = 3 to 64) and a long, contiguous T (the tiles of a group).
///
/// BLAS is a poor fit here: with C = 16 it spends as long zeroing C (beta = 0) and packing A and B as
/// multiplying. This kernel reads U and V in place and writes M once: each block of 4 rows x 3
/// vectors of tiles is 12 accumulators, fed by three loads of V and four broadcasts of U per step of
/// C (12 fused multiply-adds per 7 loads); narrower blocks finish the row. Written once over the
/// vector width (`ProductLanes`).
/// Rows must be a multiple of 4 (callers fall back to sgemm otherwise).
public enum TileProduct {
    static func supports(rows: Int) -> Bool { rows % 4 == 0 }

    /// The vector width `multiply` uses: that of the build (16 with AVX-512, 8 with AVX2, else 4),
    /// unless a test forces 16, 8 or 4 here (0: the build's). Every width gives the same bits.
    public static let forcedLanes = Atomic<Int>(0)

    public static var lanes: Int {
        let forced = forcedLanes.load(ordering: .relaxed)
        return forced != 0 ? forced : InstructionSet.built.vectorLanes
    }

    /// The product in the widest vectors the kernels were built for: 16 lanes with AVX-512 (blocks
    /// of 4 rows x 48 tiles in 12 of its 32 registers), 8 with AVX2, 4 otherwise. Every width gives
    /// the same bits: each output is the same chain of fused multiply-adds over C.
    static func multiply(
        rows: Int, inner: Int, tiles: Int, u: UnsafePointer<Float>,
        v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>
    ) {
        switch lanes {
        case 16: multiply(SIMD16<Float>.self, rows: rows, inner: inner, tiles: tiles, u: u, v: v, m: m)
        case 8: multiply(SIMD8<Float>.self, rows: rows, inner: inner, tiles: tiles, u: u, v: v, m: m)
        default: multiply(SIMD4<Float>.self, rows: rows, inner: inner, tiles: tiles, u: u, v: v, m: m)
        }
    }

    /// The product in vectors of `W`: blocks of 4 rows x 3 and 2 vectors of tiles, then one vector,
    /// then narrower runs for the rest of the row.
    @inline(__always)
    static func multiply<W: ProductLanes>(
        _: W.Type, rows: Int, inner: Int, tiles: Int, u: UnsafePointer<Float>,
        v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>
    ) {
        precondition(rows % 4 == 0)
        let w = W.lanes
        var k = 0
        while k < rows {
            let u0 = u + k * inner
            let u1 = u0 + inner
            let u2 = u1 + inner
            let u3 = u2 + inner
            let m0 = m + k * tiles
            let m1 = m0 + tiles
            let m2 = m1 + tiles
            let m3 = m2 + tiles
            var t = 0
            if w >= 16 {  // 32 registers: 16 accumulators fit
                while t + 4 * w <= tiles {
                    block4(W.self, inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                    t += 4 * w
                }
            }
            while t + 3 * w <= tiles {
                block3(W.self, inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                t += 3 * w
            }
            while t + 2 * w <= tiles {
                block2(W.self, inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                t += 2 * w
            }
            while t + w <= tiles {
                block(W.self, inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                t += w
            }
            if w > 8 {
                while t + 8 <= tiles {
                    block(SIMD8<Float>.self, inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                    t += 8
                }
            }
            if w > 4 {
                while t + 4 <= tiles {
                    block(SIMD4<Float>.self, inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                    t += 4
                }
            }
            while t < tiles {
                block(Float.self, inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                t += 1
            }
            k += 4
        }
    }

    /// 4 rows x 2 vectors: 8 accumulators, 2 loads and 4 broadcasts per step of C.
    @inline(__always)
    static func block2<L: ProductLanes>(
        _: L.Type, _ inner: Int, _ ldv: Int,
        _ u0: UnsafePointer<Float>, _ u1: UnsafePointer<Float>,
        _ u2: UnsafePointer<Float>, _ u3: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        _ m0: UnsafeMutablePointer<Float>, _ m1: UnsafeMutablePointer<Float>,
        _ m2: UnsafeMutablePointer<Float>, _ m3: UnsafeMutablePointer<Float>
    ) {
        let w = L.lanes
        var a0 = L.zero
        var a1 = L.zero
        var b0 = L.zero
        var b1 = L.zero
        var c0 = L.zero
        var c1 = L.zero
        var d0 = L.zero
        var d1 = L.zero
        var row = v
        for c in 0..<inner {
            let x0 = L(row)
            let x1 = L(row + w)
            let w0 = L(broadcast: u0[c])
            let w1 = L(broadcast: u1[c])
            let w2 = L(broadcast: u2[c])
            let w3 = L(broadcast: u3[c])
            a0 = a0.addingProduct(w0, x0)
            a1 = a1.addingProduct(w0, x1)
            b0 = b0.addingProduct(w1, x0)
            b1 = b1.addingProduct(w1, x1)
            c0 = c0.addingProduct(w2, x0)
            c1 = c1.addingProduct(w2, x1)
            d0 = d0.addingProduct(w3, x0)
            d1 = d1.addingProduct(w3, x1)
            row += ldv
        }
        a0.store(m0)
        a1.store(m0 + w)
        b0.store(m1)
        b1.store(m1 + w)
        c0.store(m2)
        c1.store(m2 + w)
        d0.store(m3)
        d1.store(m3 + w)
    }

    /// 4 rows x 4 vectors: 16 accumulators, 4 loads and 4 broadcasts per step of C (for the 32
    /// registers of AVX-512).
    @inline(__always)
    static func block4<L: ProductLanes>(
        _: L.Type, _ inner: Int, _ ldv: Int,
        _ u0: UnsafePointer<Float>, _ u1: UnsafePointer<Float>,
        _ u2: UnsafePointer<Float>, _ u3: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        _ m0: UnsafeMutablePointer<Float>, _ m1: UnsafeMutablePointer<Float>,
        _ m2: UnsafeMutablePointer<Float>, _ m3: UnsafeMutablePointer<Float>
    ) {
        let w = L.lanes
        var acc = (
            L.zero, L.zero, L.zero, L.zero, L.zero, L.zero, L.zero, L.zero,
            L.zero, L.zero, L.zero, L.zero, L.zero, L.zero, L.zero, L.zero
        )
        var row = v
        for c in 0..<inner {
            let x0 = L(row)
            let x1 = L(row + w)
            let x2 = L(row + 2 * w)
            let x3 = L(row + 3 * w)
            let w0 = L(broadcast: u0[c])
            acc.0 = acc.0.addingProduct(w0, x0)
            acc.1 = acc.1.addingProduct(w0, x1)
            acc.2 = acc.2.addingProduct(w0, x2)
            acc.3 = acc.3.addingProduct(w0, x3)
            let w1 = L(broadcast: u1[c])
            acc.4 = acc.4.addingProduct(w1, x0)
            acc.5 = acc.5.addingProduct(w1, x1)
            acc.6 = acc.6.addingProduct(w1, x2)
            acc.7 = acc.7.addingProduct(w1, x3)
            let w2 = L(broadcast: u2[c])
            acc.8 = acc.8.addingProduct(w2, x0)
            acc.9 = acc.9.addingProduct(w2, x1)
            acc.10 = acc.10.addingProduct(w2, x2)
            acc.11 = acc.11.addingProduct(w2, x3)
            let w3 = L(broadcast: u3[c])
            acc.12 = acc.12.addingProduct(w3, x0)
            acc.13 = acc.13.addingProduct(w3, x1)
            acc.14 = acc.14.addingProduct(w3, x2)
            acc.15 = acc.15.addingProduct(w3, x3)
            row += ldv
        }
        acc.0.store(m0)
        acc.1.store(m0 + w)
        acc.2.store(m0 + 2 * w)
        acc.3.store(m0 + 3 * w)
        acc.4.store(m1)
        acc.5.store(m1 + w)
        acc.6.store(m1 + 2 * w)
        acc.7.store(m1 + 3 * w)
        acc.8.store(m2)
        acc.9.store(m2 + w)
        acc.10.store(m2 + 2 * w)
        acc.11.store(m2 + 3 * w)
        acc.12.store(m3)
        acc.13.store(m3 + w)
        acc.14.store(m3 + 2 * w)
        acc.15.store(m3 + 3 * w)
    }

    /// 4 rows x 3 vectors: 12 accumulators, 3 loads and 4 broadcasts per step of C.
    @inline(__always)
    static func block3<L: ProductLanes>(
        _: L.Type, _ inner: Int, _ ldv: Int,
        _ u0: UnsafePointer<Float>, _ u1: UnsafePointer<Float>,
        _ u2: UnsafePointer<Float>, _ u3: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        _ m0: UnsafeMutablePointer<Float>, _ m1: UnsafeMutablePointer<Float>,
        _ m2: UnsafeMutablePointer<Float>, _ m3: UnsafeMutablePointer<Float>
    ) {
        let w = L.lanes
        var a0 = L.zero
        var a1 = L.zero
        var a2 = L.zero
        var b0 = L.zero
        var b1 = L.zero
        var b2 = L.zero
        var c0 = L.zero
        var c1 = L.zero
        var c2 = L.zero
        var d0 = L.zero
        var d1 = L.zero
        var d2 = L.zero
        var row = v
        for c in 0..<inner {
            let x0 = L(row)
            let x1 = L(row + w)
            let x2 = L(row + 2 * w)
            let w0 = L(broadcast: u0[c])
            a0 = a0.addingProduct(w0, x0)
            a1 = a1.addingProduct(w0, x1)
            a2 = a2.addingProduct(w0, x2)
            let w1 = L(broadcast: u1[c])
            b0 = b0.addingProduct(w1, x0)
            b1 = b1.addingProduct(w1, x1)
            b2 = b2.addingProduct(w1, x2)
            let w2 = L(broadcast: u2[c])
            c0 = c0.addingProduct(w2, x0)
            c1 = c1.addingProduct(w2, x1)
            c2 = c2.addingProduct(w2, x2)
            let w3 = L(broadcast: u3[c])
            d0 = d0.addingProduct(w3, x0)
            d1 = d1.addingProduct(w3, x1)
            d2 = d2.addingProduct(w3, x2)
            row += ldv
        }
        a0.store(m0)
        a1.store(m0 + w)
        a2.store(m0 + 2 * w)
        b0.store(m1)
        b1.store(m1 + w)
        b2.store(m1 + 2 * w)
        c0.store(m2)
        c1.store(m2 + w)
        c2.store(m2 + 2 * w)
        d0.store(m3)
        d1.store(m3 + w)
        d2.store(m3 + 2 * w)
    }

    @inline(__always)
    static func block<L: ProductLanes>(
        _: L.Type, _ inner: Int, _ ldv: Int,
        _ u0: UnsafePointer<Float>, _ u1: UnsafePointer<Float>,
        _ u2: UnsafePointer<Float>, _ u3: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        _ m0: UnsafeMutablePointer<Float>, _ m1: UnsafeMutablePointer<Float>,
        _ m2: UnsafeMutablePointer<Float>, _ m3: UnsafeMutablePointer<Float>
    ) {
        var a = L.zero
        var b = L.zero
        var c = L.zero
        var d = L.zero
        var row = v
        for i in 0..<inner {
            let x = L(row)
            a = a.addingProduct(L(broadcast: u0[i]), x)
            b = b.addingProduct(L(broadcast: u1[i]), x)
            c = c.addingProduct(L(broadcast: u2[i]), x)
            d = d.addingProduct(L(broadcast: u3[i]), x)
            row += ldv
        }
        a.store(m0)
        b.store(m1)
        c.store(m2)
        d.store(m3)
    }
}
