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

extension TileProduct {
    /// `D (rows x cols) (+)= Z (rows x T) * V (cols x T)^T`, the weight-gradient product: each entry is
    /// a dot product over the long, contiguous tile dimension. Blocks of 4 rows x 2 columns keep 8 SIMD8
    /// accumulators (6 loads per 8 fused multiply-adds), reduced across lanes once per block.
    /// Rows must be a multiple of 4.
    /// With `wide` (the default with 32 vector registers, AVX-512), blocks of 4 x 4 take the columns
    /// they can: the same dot products, so the same bits, with a third fewer loads.
    static func multiplyTransposed(
        rows: Int, cols: Int, tiles: Int, z: UnsafePointer<Float>,
        v: UnsafePointer<Float>, d: UnsafeMutablePointer<Float>, accumulate: Bool, wide: Bool = lanes >= 16
    ) {
        precondition(rows % 4 == 0)
        typealias L = SIMD8<Float>
        let body = tiles & ~7
        var k = 0
        while k < rows {
            let z0 = z + k * tiles
            let z1 = z0 + tiles
            let z2 = z1 + tiles
            let z3 = z2 + tiles
            var c = 0
            if wide {  // 16 accumulators and 8 loads per 16 fused multiply-adds
                while c + 4 <= cols {
                    dotBlock4x4(tiles: tiles, z0, z1, z2, z3, v + c * tiles, d + k * cols + c, cols, accumulate)
                    c += 4
                }
            }
            while c < cols {
                let pair = c + 1 < cols
                let v0 = v + c * tiles
                let v1 = pair ? v0 + tiles : v0
                var a0 = L()
                var a1 = L()
                var b0 = L()
                var b1 = L()
                var c0 = L()
                var c1 = L()
                var d0 = L()
                var d1 = L()
                var t = 0
                while t < body {
                    let x0 = L(v0 + t)
                    let x1 = L(v1 + t)
                    let w0 = L(z0 + t)
                    let w1 = L(z1 + t)
                    let w2 = L(z2 + t)
                    let w3 = L(z3 + t)
                    a0 = a0.addingProduct(w0, x0)
                    a1 = a1.addingProduct(w0, x1)
                    b0 = b0.addingProduct(w1, x0)
                    b1 = b1.addingProduct(w1, x1)
                    c0 = c0.addingProduct(w2, x0)
                    c1 = c1.addingProduct(w2, x1)
                    d0 = d0.addingProduct(w3, x0)
                    d1 = d1.addingProduct(w3, x1)
                    t += 8
                }
                var s = (fold(a0), fold(a1), fold(b0), fold(b1), fold(c0), fold(c1), fold(d0), fold(d1))
                while t < tiles {
                    let x0 = v0[t]
                    let x1 = v1[t]
                    s.0 += z0[t] * x0
                    s.1 += z0[t] * x1
                    s.2 += z1[t] * x0
                    s.3 += z1[t] * x1
                    s.4 += z2[t] * x0
                    s.5 += z2[t] * x1
                    s.6 += z3[t] * x0
                    s.7 += z3[t] * x1
                    t += 1
                }
                let out = d + k * cols + c
                func put(_ row: Int, _ first: Float, _ second: Float) {
                    let p = out + row * cols
                    if accumulate { p[0] += first } else { p[0] = first }
                    if pair { if accumulate { p[1] += second } else { p[1] = second } }
                }
                put(0, s.0, s.1)
                put(1, s.2, s.3)
                put(2, s.4, s.5)
                put(3, s.6, s.7)
                c += 2
            }
            k += 4
        }
    }

    /// `d[r][j] (+)= z_r . v_j` for 4 rows of Z and 4 rows of V (at `v`, `tiles` apart), written at
    /// `d + r * cols + j`: in 8 lanes and then the tail, exactly as the 4 x 2 blocks do.
    @inline(__always)
    static func dotBlock4x4(
        tiles: Int, _ z0: UnsafePointer<Float>, _ z1: UnsafePointer<Float>, _ z2: UnsafePointer<Float>,
        _ z3: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ cols: Int,
        _ accumulate: Bool
    ) {
        typealias L = SIMD8<Float>
        let v0 = v
        let v1 = v0 + tiles
        let v2 = v1 + tiles
        let v3 = v2 + tiles
        let body = tiles & ~7
        var acc = (
            L(), L(), L(), L(), L(), L(), L(), L(),
            L(), L(), L(), L(), L(), L(), L(), L()
        )
        var t = 0
        while t < body {
            let x0 = L(v0 + t)
            let x1 = L(v1 + t)
            let x2 = L(v2 + t)
            let x3 = L(v3 + t)
            let w0 = L(z0 + t)
            acc.0 = acc.0.addingProduct(w0, x0)
            acc.1 = acc.1.addingProduct(w0, x1)
            acc.2 = acc.2.addingProduct(w0, x2)
            acc.3 = acc.3.addingProduct(w0, x3)
            let w1 = L(z1 + t)
            acc.4 = acc.4.addingProduct(w1, x0)
            acc.5 = acc.5.addingProduct(w1, x1)
            acc.6 = acc.6.addingProduct(w1, x2)
            acc.7 = acc.7.addingProduct(w1, x3)
            let w2 = L(z2 + t)
            acc.8 = acc.8.addingProduct(w2, x0)
            acc.9 = acc.9.addingProduct(w2, x1)
            acc.10 = acc.10.addingProduct(w2, x2)
            acc.11 = acc.11.addingProduct(w2, x3)
            let w3 = L(z3 + t)
            acc.12 = acc.12.addingProduct(w3, x0)
            acc.13 = acc.13.addingProduct(w3, x1)
            acc.14 = acc.14.addingProduct(w3, x2)
            acc.15 = acc.15.addingProduct(w3, x3)
            t += 8
        }
        var s = (
            fold(acc.0), fold(acc.1), fold(acc.2), fold(acc.3), fold(acc.4), fold(acc.5), fold(acc.6), fold(acc.7),
            fold(acc.8), fold(acc.9), fold(acc.10), fold(acc.11), fold(acc.12), fold(acc.13), fold(acc.14),
            fold(acc.15)
        )
        while t < tiles {
            let x0 = v0[t]
            let x1 = v1[t]
            let x2 = v2[t]
            let x3 = v3[t]
            s.0 += z0[t] * x0
            s.1 += z0[t] * x1
            s.2 += z0[t] * x2
            s.3 += z0[t] * x3
            s.4 += z1[t] * x0
            s.5 += z1[t] * x1
            s.6 += z1[t] * x2
            s.7 += z1[t] * x3
            s.8 += z2[t] * x0
            s.9 += z2[t] * x1
            s.10 += z2[t] * x2
            s.11 += z2[t] * x3
            s.12 += z3[t] * x0
            s.13 += z3[t] * x1
            s.14 += z3[t] * x2
            s.15 += z3[t] * x3
            t += 1
        }
        @inline(__always) func put(_ row: Int, _ e0: Float, _ e1: Float, _ e2: Float, _ e3: Float) {
            Float.interleave4(e0, e1, e2, e3, to: d + row * cols, accumulate: accumulate)
        }
        put(0, s.0, s.1, s.2, s.3)
        put(1, s.4, s.5, s.6, s.7)
        put(2, s.8, s.9, s.10, s.11)
        put(3, s.12, s.13, s.14, s.15)
    }

    /// The sum of the lanes as a tree (three vector adds), not lane by lane in order.
    @inline(__always)
    static func fold(_ v: SIMD8<Float>) -> Float {
        let h = v.lowHalf + v.highHalf
        let q = h.lowHalf + h.highHalf
        return q[0] + q[1]
    }
}
