/// The im2col path's column matrices and the transposed kernel: unrolling an image into
/// col[Cin*k*k, Hout*Wout], folding it back (the adjoint), and the flipped weights of
/// backward-data.
extension Convolution {
    /// The weights of the transposed convolution (backward-data as a forward pass):
    /// `W'[ci, co, ky, kx] = W[co, ci, k-1-ky, k-1-kx]`.
    func flipTransposed(_ weight: UnsafePointer<Float>, into flipped: UnsafeMutablePointer<Float>) {
        let k2 = kernelSize * kernelSize
        for co in 0..<outChannels {
            for ci in 0..<inChannels {
                let src = weight + (co * inChannels + ci) * k2
                let dst = flipped + (ci * outChannels + co) * k2
                for j in 0..<k2 { dst[j] = src[k2 - 1 - j] }
            }
        }
    }

    /// The output columns `lo..<hi` whose input column `ox*stride - padding + kj` is inside the image.
    @inline(__always)
    func validColumns(_ kj: Int) -> (Int, Int) {
        var lo = 0
        while lo < outWidth && lo * stride - padding + kj < 0 { lo += 1 }
        var hi = outWidth
        while hi > lo && (hi - 1) * stride - padding + kj >= inWidth { hi -= 1 }
        return (lo, hi)
    }

    /// `out[i] = line[i * stride]` for `i < count`; `room` floats of the input row are readable at `line`.
    /// Stride 2 takes eight outputs from the even lanes of sixteen inputs while the row has room.
    @inline(__always)
    func gatherColumns(_ line: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int, room: Int) {
        var i = 0
        if stride == 1 {
            out.update(from: line, count: count)
            return
        }
        if stride == 2 {
            while i + 8 <= count && 2 * i + 16 <= room {
                let v = UnsafeRawPointer(line + 2 * i).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(out + i).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                i += 8
            }
        }
        while i < count {
            out[i] = line[i * stride]
            i += 1
        }
    }

    /// `line[i * stride] += src[i]` for `i < count`: the adjoint of `gatherColumns`.
    @inline(__always)
    func scatterAddColumns(_ src: UnsafePointer<Float>, _ line: UnsafeMutablePointer<Float>, _ count: Int, room: Int) {
        var i = 0
        if stride == 2 {
            while i + 8 <= count && 2 * i + 16 <= room {
                let p = UnsafeMutableRawPointer(line + 2 * i)
                var v = p.loadUnaligned(as: SIMD16<Float>.self)
                v.evenHalf += UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
                p.storeBytes(of: v, as: SIMD16<Float>.self)
                i += 8
            }
        }
        while i < count {
            line[i * stride] += src[i]
            i += 1
        }
    }

    /// Unrolls one image [Cin, H, W] into col[Cin*k*k, Hout*Wout], zeros where the window is in the padding.
    /// Stride 2 goes through the phase planes (`planes`: `phaseCount` floats).
    @inline(__always)
    func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, planes: UnsafeMutablePointer<Float>) {
        if stride == 2 { return im2colByPhases(x, col, planes: planes) }
        let k = kernelSize
        let oh = outHeight
        let ow = outWidth
        let h = inHeight
        let w = inWidth
        var row = col
        for c in 0..<inChannels {
            let plane = x + c * h * w
            for ki in 0..<k {
                for kj in 0..<k {
                    let (lo, hi) = validColumns(kj)
                    let first = lo * stride - padding + kj  // input column of output column lo
                    for oy in 0..<oh {
                        let iy = oy * stride - padding + ki
                        let out = row + oy * ow
                        if iy < 0 || iy >= h {
                            out.update(repeating: 0, count: ow)
                            continue
                        }
                        out.update(repeating: 0, count: lo)
                        (out + hi).update(repeating: 0, count: ow - hi)
                        gatherColumns(plane + iy * w + first, out + lo, hi - lo, room: w - first)
                    }
                    row += oh * ow
                }
            }
        }
    }

    /// Adds col[Cin*k*k, Hout*Wout] back into an image [Cin, H, W] (the adjoint of im2col).
    @inline(__always)
    func col2im(_ col: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>, planes: UnsafeMutablePointer<Float>) {
        if stride == 2 { return col2imByPhases(col, x, planes: planes) }
        let k = kernelSize
        let oh = outHeight
        let ow = outWidth
        let h = inHeight
        let w = inWidth
        var row = col
        for c in 0..<inChannels {
            let plane = x + c * h * w
            for ki in 0..<k {
                for kj in 0..<k {
                    let (lo, hi) = validColumns(kj)
                    let first = lo * stride - padding + kj
                    for oy in 0..<oh {
                        let iy = oy * stride - padding + ki
                        if iy < 0 || iy >= h { continue }
                        scatterAddColumns(row + oy * ow + lo, plane + iy * w + first, hi - lo, room: w - first)
                    }
                    row += oh * ow
                }
            }
        }
    }
}
