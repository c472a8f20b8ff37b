/// im2col and col2im for stride-2 convolutions through the input's four phases.
///
/// With stride 2, kernel row `ki` reads input row `2*oy + a` (`a = ki - padding`): a row of phase
/// `a & 1` (even or odd rows), `oy + (a >> 1)` in that phase. So once an image is split into its four
/// phase planes (even/odd rows x even/odd columns, zero-bordered for the padding), every row of the
/// im2col matrix is a contiguous window of one plane: the split is one deinterleaving pass over the
/// image, and the unrolling is plain copies, instead of a strided gather with a scalar tail for each
/// of the k*k*Cin rows. col2im is the adjoint: add the columns into the planes, then interleave the
/// planes back into the image.
extension Convolution {
    /// Phase-plane offsets `a >> 1` of the kernel's first and last rows (or columns).
    var phaseLow: Int { (-padding) >> 1 }
    var phaseHigh: Int { (kernelSize - 1 - padding) >> 1 }
    var phaseHeight: Int { outHeight + phaseHigh - phaseLow }
    var phaseWidth: Int { outWidth + phaseHigh - phaseLow }
    /// Floats of the four zero-bordered phase planes of one image (stride 2 only).
    var phaseCount: Int { stride == 2 ? inChannels * 4 * phaseHeight * phaseWidth : 0 }

    /// Walks the parts of the phase planes that hold input pixels: `body(plane row, input row, count)`
    /// for each plane row whose input row exists, with the plane row's first in-image entry, the input
    /// pixel it holds, and how many follow at stride 2 (`room` floats of the input row readable).
    @inline(__always)
    func forEachPhaseRow(_ body: (_ planeOffset: Int, _ inputOffset: Int, _ count: Int, _ room: Int) -> Void) {
        let ph = phaseHeight
        let pw = phaseWidth
        let low = phaseLow
        let h = inHeight
        let w = inWidth
        for c in 0..<inChannels {
            for py in 0..<2 {
                for px in 0..<2 where px < w {
                    let plane = ((c * 2 + py) * 2 + px) * ph * pw
                    // Entry s of a plane row holds input column 2 * (s + low) + px: the first in-image
                    // entry is s = -low, the last (w - 1 - px) >> 1 - low.
                    let first = -low
                    let count = min(pw, ((w - 1 - px) >> 1) - low + 1) - first
                    guard count > 0 else { continue }
                    for rr in 0..<ph {
                        let iy = 2 * (rr + low) + py
                        guard iy >= 0 && iy < h else { continue }
                        body(plane + rr * pw + first, (c * h + iy) * w + px, count, w - px)
                    }
                }
            }
        }
    }

    /// The four zero-bordered phase planes of one image [Cin, H, W].
    @inline(__always)
    func splitPhases(_ x: UnsafePointer<Float>, _ planes: UnsafeMutablePointer<Float>) {
        planes.update(repeating: 0, count: phaseCount)
        forEachPhaseRow { plane, input, count, room in
            gatherColumns(x + input, planes + plane, count, room: room)
        }
    }

    /// Adds the phase planes into the image [Cin, H, W] (the adjoint of `splitPhases`).
    @inline(__always)
    func mergePhases(_ planes: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>) {
        forEachPhaseRow { plane, input, count, room in
            scatterAddColumns(planes + plane, x + input, count, room: room)
        }
    }

    /// `body(im2col row, window)` for each row of the im2col matrix and the start of the window of
    /// the phase planes it copies (rows of `phaseWidth`).
    @inline(__always)
    func forEachPhaseWindow(_ body: (_ row: Int, _ window: Int) -> Void) {
        let k = kernelSize
        let ph = phaseHeight
        let pw = phaseWidth
        let low = phaseLow
        for c in 0..<inChannels {
            for ki in 0..<k {
                let a = ki - padding
                for kj in 0..<k {
                    let b = kj - padding
                    let plane = ((c * 2 + (a & 1)) * 2 + (b & 1)) * ph * pw
                    body((c * k + ki) * k + kj, plane + ((a >> 1) - low) * pw + ((b >> 1) - low))
                }
            }
        }
    }

    /// im2col of a stride-2 convolution through the phase planes (`planes`: `phaseCount` floats).
    @inline(__always)
    func im2colByPhases(
        _ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>,
        planes: UnsafeMutablePointer<Float>
    ) {
        splitPhases(x, planes)
        let oh = outHeight
        let ow = outWidth
        let pw = phaseWidth
        forEachPhaseWindow { row, window in
            let out = col + row * oh * ow
            for oy in 0..<oh { Self.copy(planes + window + oy * pw, out + oy * ow, ow) }
        }
    }

    /// col2im of a stride-2 convolution through the phase planes: adds into `x`.
    @inline(__always)
    func col2imByPhases(
        _ col: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>,
        planes: UnsafeMutablePointer<Float>
    ) {
        planes.update(repeating: 0, count: phaseCount)
        let oh = outHeight
        let ow = outWidth
        let pw = phaseWidth
        forEachPhaseWindow { row, window in
            let src = col + row * oh * ow
            for oy in 0..<oh { Self.add(src + oy * ow, planes + window + oy * pw, ow) }
        }
        mergePhases(planes, x)
    }

    @inline(__always)
    static func copy(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        while i + 8 <= count {
            UnsafeMutableRawPointer(dst + i).storeBytes(
                of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            dst[i] = src[i]
            i += 1
        }
    }

    @inline(__always)
    static func add(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        while i + 8 <= count {
            let p = UnsafeMutableRawPointer(dst + i)
            p.storeBytes(
                of: p.loadUnaligned(as: SIMD8<Float>.self)
                    + UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self),
                as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            dst[i] += src[i]
            i += 1
        }
    }
}
