/// The product at the heart of a Winograd convolution, `M (rows x T) = U (rows x C) * V (C x T)`,
/// row-major with leading dimensions C and T, for the short inner dimension of a CIFAR layer
/// (C = 3 to 64) and a long, contiguous T (the tiles of a group).
///
/// BLAS is a poor fit here: with C = 16 it spends as long zeroing C (beta = 0) and packing A and B as
/// multiplying. This kernel reads U and V in place and writes M once: each block of 4 rows x 24 tiles
/// is 12 SIMD8 accumulators, fed by three loads of V and four broadcasts of U per step of C (12 fused
/// multiply-adds per 7 loads); narrower blocks finish the row.
/// Rows must be a multiple of 4 (callers fall back to sgemm otherwise).
enum TileProduct {
    static func supports(rows: Int) -> Bool { rows % 4 == 0 }

    static func multiply(
        rows: Int, inner: Int, tiles: Int, u: UnsafePointer<Float>,
        v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>
    ) {
        precondition(rows % 4 == 0)
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
            while t + 24 <= tiles {
                block24(inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                t += 24
            }
            while t + 16 <= tiles {
                block16(inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                t += 16
            }
            while t + 8 <= tiles {
                block(SIMD8<Float>.self, inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                t += 8
            }
            while t + 4 <= tiles {
                block(SIMD4<Float>.self, inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                t += 4
            }
            while t < tiles {
                block(Float.self, inner, tiles, u0, u1, u2, u3, v + t, m0 + t, m1 + t, m2 + t, m3 + t)
                t += 1
            }
            k += 4
        }
    }

    @inline(__always)
    static func block16(
        _ inner: Int, _ ldv: Int,
        _ u0: UnsafePointer<Float>, _ u1: UnsafePointer<Float>,
        _ u2: UnsafePointer<Float>, _ u3: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        _ m0: UnsafeMutablePointer<Float>, _ m1: UnsafeMutablePointer<Float>,
        _ m2: UnsafeMutablePointer<Float>, _ m3: UnsafeMutablePointer<Float>
    ) {
        typealias L = SIMD8<Float>
        var a0 = L()
        var a1 = L()
        var b0 = L()
        var b1 = L()
        var c0 = L()
        var c1 = L()
        var d0 = L()
        var d1 = L()
        var row = v
        for c in 0..<inner {
            let x0 = L(row)
            let x1 = L(row + 8)
            let w0 = L(repeating: u0[c])
            let w1 = L(repeating: u1[c])
            let w2 = L(repeating: u2[c])
            let w3 = L(repeating: u3[c])
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
        a1.store(m0 + 8)
        b0.store(m1)
        b1.store(m1 + 8)
        c0.store(m2)
        c1.store(m2 + 8)
        d0.store(m3)
        d1.store(m3 + 8)
    }

    @inline(__always)
    static func block24(
        _ inner: Int, _ ldv: Int,
        _ u0: UnsafePointer<Float>, _ u1: UnsafePointer<Float>,
        _ u2: UnsafePointer<Float>, _ u3: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        _ m0: UnsafeMutablePointer<Float>, _ m1: UnsafeMutablePointer<Float>,
        _ m2: UnsafeMutablePointer<Float>, _ m3: UnsafeMutablePointer<Float>
    ) {
        typealias L = SIMD8<Float>
        var a0 = L()
        var a1 = L()
        var a2 = L()
        var b0 = L()
        var b1 = L()
        var b2 = L()
        var c0 = L()
        var c1 = L()
        var c2 = L()
        var d0 = L()
        var d1 = L()
        var d2 = L()
        var row = v
        for c in 0..<inner {
            let x0 = L(row)
            let x1 = L(row + 8)
            let x2 = L(row + 16)
            let w0 = L(repeating: u0[c])
            a0 = a0.addingProduct(w0, x0)
            a1 = a1.addingProduct(w0, x1)
            a2 = a2.addingProduct(w0, x2)
            let w1 = L(repeating: u1[c])
            b0 = b0.addingProduct(w1, x0)
            b1 = b1.addingProduct(w1, x1)
            b2 = b2.addingProduct(w1, x2)
            let w2 = L(repeating: u2[c])
            c0 = c0.addingProduct(w2, x0)
            c1 = c1.addingProduct(w2, x1)
            c2 = c2.addingProduct(w2, x2)
            let w3 = L(repeating: u3[c])
            d0 = d0.addingProduct(w3, x0)
            d1 = d1.addingProduct(w3, x1)
            d2 = d2.addingProduct(w3, x2)
            row += ldv
        }
        a0.store(m0)
        a1.store(m0 + 8)
        a2.store(m0 + 16)
        b0.store(m1)
        b1.store(m1 + 8)
        b2.store(m1 + 16)
        c0.store(m2)
        c1.store(m2 + 8)
        c2.store(m2 + 16)
        d0.store(m3)
        d1.store(m3 + 8)
        d2.store(m3 + 16)
    }

    @inline(__always)
    static func block<L: TileLanes>(
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
    static func multiplyTransposed(
        rows: Int, cols: Int, tiles: Int, z: UnsafePointer<Float>,
        v: UnsafePointer<Float>, d: UnsafeMutablePointer<Float>, accumulate: Bool
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

    /// The sum of the lanes as a tree (three vector adds), not lane by lane in order.
    @inline(__always)
    static func fold(_ v: SIMD8<Float>) -> Float {
        let h = v.lowHalf + v.highHalf
        let q = h.lowHalf + h.highHalf
        return q[0] + q[1]
    }
}
