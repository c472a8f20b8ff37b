import Synchronization

/// The weight gradient's product, beside the forward one (TileProduct.swift): the same tiles, but a
/// dot product over them for every (output, input) channel pair.
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
