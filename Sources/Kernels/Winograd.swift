/// Winograd minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2016) for the stride-1, padding-1 3x3 convolutions on planes of even size: all but two
/// convolutions of a CIFAR ResNet. Each 2x2 output tile is
///
///     Y = A^T [ sum_c (G g G^T) ⊙ (B^T d B) ] A
///
/// for its 4x4 input patch d, so a tile costs 16 multiplies per channel pair instead of 36. For a group
/// of tiles the sum over channels is 16 GEMMs, one per position ξ of the 4x4 transformed tile:
/// `M[ξ] (Cout x T) = U[ξ] (Cout x Cin) * V[ξ] (Cin x T)`. Backward to the weights is the same algebra
/// run backwards: `dU[ξ] = sum_tiles (A dY A^T)[ξ] V[ξ]^T`, `dg = G^T dU G`. Backward to the input is
/// the forward of the transposed convolution (flipped kernel), which needs no scatter.
///
/// Tiles are processed in groups of whole images sized so that the transformed input and output of a
/// group stay in the core's L2 cache; a group's tiles are numbered image by image, row by row.
struct Winograd: WinogradTiling {
    var form: WinogradForm { .f2(self) }
    static let outputTile = 2
    let inChannels: Int, outChannels: Int, height: Int, width: Int
    /// Images per group (see `WinogradTiling.imagesPerGroup`, which sizes groups to `groupBudget`).
    /// The weight-gradient pass reduces over the tiles of a group, so it takes groups
    /// `gradientGroupFactor` times longer (longer dot products; measured faster on the 64-channel stage).
    let imagesPerGroup: Int
    static let groupBudget = 1 << 17
    /// The fewest tiles a group holds (what the CIFAR layers' groups already hold: 48 to 64 tiles).
    static let minimumGroupTiles = 48
    static let gradientGroupFactor = 2
    var gradientImagesPerGroup: Int { imagesPerGroup * Self.gradientGroupFactor }

    var gradientGroupTiles: Int { gradientImagesPerGroup * tilesPerImage }
    /// Floats of the transformed weights `U[16][Cout][Cin]`.
    var transformedWeightCount: Int { 16 * outChannels * inChannels }
    /// Floats between the 16 transformed matrices of a group of `tiles` tiles with `channels` rows. The
    /// extra cache line keeps the 16 streams a tile transform writes (or reads) from falling into one
    /// L1 set, which they would at a multiple of 4 KiB apart.
    @inline(__always) static func xiStride(_ channels: Int, _ tiles: Int) -> Int { channels * tiles + 16 }
    /// Floats of one thread's scratch: transformed input and output tiles of one group, the
    /// deinterleaved rows of one tile row, and a partial weight gradient in the transformed domain.
    var perThreadWorkspace: Int {
        16 * (Self.xiStride(inChannels, gradientGroupTiles) + Self.xiStride(outChannels, gradientGroupTiles))
            + 8 * (tilesX + 1)
            + transformedWeightCount
    }

    // MARK: Passes

    // MARK: Weight transforms

    /// Chunks for a weight transform over `plane` (o, i) planes: one below 1,024 planes (a few
    /// microseconds of work, less than a parallel region costs), else one per thread.
    static func weightTransformChunks(plane: Int, threads: Int) -> Int { plane >= 1024 ? max(1, threads) : 1 }

    /// `U[ξ][o][i] = (G g[o][i] G^T)[ξ]` for weights `g` laid out [Cout][Cin][3][3];
    /// G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]. Eight planes at a time, one per lane.
    static func transformWeights(
        _ g: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
        into u: UnsafeMutablePointer<Float>, planes: Range<Int>? = nil, layout: KernelLayout = .direct
    ) {
        typealias L = KernelLanes.Lanes
        let plane = outChannels * inChannels
        KernelLanes.forEachGroup(planes ?? 0..<plane, layout) { lanes in
            // t = G g (4x3), one column of g at a time.
            @inline(__always) func column(_ j: Int) -> (L, L, L, L) {
                let g0 = lanes.tap(j, of: g)
                let g1 = lanes.tap(3 + j, of: g)
                let g2 = lanes.tap(6 + j, of: g)
                return (g0, (g0 + g1 + g2) * 0.5, (g0 - g1 + g2) * 0.5, g2)
            }
            // u = t G^T: row i of u from row i of t.
            @inline(__always) func row(_ i: Int, _ t0: L, _ t1: L, _ t2: L) {
                lanes.store(t0, i * 4 + 0, to: u, planes: plane)
                lanes.store((t0 + t1 + t2) * 0.5, i * 4 + 1, to: u, planes: plane)
                lanes.store((t0 - t1 + t2) * 0.5, i * 4 + 2, to: u, planes: plane)
                lanes.store(t2, i * 4 + 3, to: u, planes: plane)
            }
            let c0 = column(0)
            let c1 = column(1)
            let c2 = column(2)
            row(0, c0.0, c1.0, c2.0)
            row(1, c0.1, c1.1, c2.1)
            row(2, c0.2, c1.2, c2.2)
            row(3, c0.3, c1.3, c2.3)
        }
    }

    // MARK: Tile transforms
    //
    // Each transform runs along a row of tiles, several adjacent tiles at once in SIMD lanes (`TileLanes`:
    // 8, then 4, then 1 at a time), so that every load and store is a contiguous run.

    /// Runs `body(m, lanes)` over the tile columns `0..<count`, widest lanes first.
    @inline(__always)
    static func alongRow(_ count: Int, _ body8: (Int) -> Void, _ body4: (Int) -> Void, _ body1: (Int) -> Void) {
        var m = 0
        while m + 8 <= count {
            body8(m)
            m += 8
        }
        while m + 4 <= count {
            body4(m)
            m += 4
        }
        while m < count {
            body1(m)
            m += 1
        }
    }

    /// `V[ξ][c][t] = (B^T d B)[ξ]` for every tile t of `images` images [Cin, H, W] at `x`;
    /// B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]].
    /// The four input rows of a tile row are first split into even and odd columns (with the zero
    /// padding) in `rows`, so that the tiles of a row read contiguous runs.
    @inline(__always)
    func transformInput(
        _ x: UnsafePointer<Float>, images: Int, tileRows: Range<Int>, into v: UnsafeMutablePointer<Float>,
        rows: UnsafeMutablePointer<Float>
    ) {
        transformInput(x, images: images, channels: 0..<inChannels, tileRows: tileRows, into: v, rows: rows)
    }

    /// `transformInput` for the input channels `channels` and the rows of tiles `tileRows` only,
    /// numbered in the group as if they were the image's all.
    @inline(__always)
    func transformInput(
        _ x: UnsafePointer<Float>, images: Int, channels: Range<Int>, tileRows rowRange: Range<Int>,
        into v: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Float>
    ) {
        let tx = tilesX
        let perImage = rowRange.count * tx
        let hw = height * width
        let tiles = images * perImage
        let n1 = tx + 1
        let xiStride = Self.xiStride(inChannels, tiles)
        for image in 0..<images {
            for c in channels {
                let plane = x + image * inChannels * hw + c * hw
                for r in rowRange {
                    // rows: E0..E3 then O0..O3; Ek[m] = row k at column 2m-1, Ok[m] = row k at column 2m.
                    for k in 0..<4 {
                        let e = rows + k * n1
                        let o = rows + (4 + k) * n1
                        let y = 2 * r - 1 + k
                        if y < 0 || y >= height {
                            e.update(repeating: 0, count: n1)
                            o.update(repeating: 0, count: n1)
                        } else {
                            let line = plane + y * width
                            e[0] = 0
                            o[tx] = 0
                            Self.alongRow(
                                tx, { m in Self.split(SIMD8<Float>.self, line, m, o, e) },
                                { m in Self.split(SIMD4<Float>.self, line, m, o, e) },
                                { m in Self.split(Float.self, line, m, o, e) })
                        }
                    }
                    let base = v + c * tiles + image * perImage + (r - rowRange.lowerBound) * tx
                    Self.alongRow(
                        tx, { m in Self.inputTiles(SIMD8<Float>.self, rows, n1, m, base, xiStride) },
                        { m in Self.inputTiles(SIMD4<Float>.self, rows, n1, m, base, xiStride) },
                        { m in Self.inputTiles(Float.self, rows, n1, m, base, xiStride) })
                }
            }
        }
    }

    /// `o[m...] = line[2m...]`, `e[m+1...] = line[2m+1...]` for one group of lanes.
    @inline(__always)
    static func split<L: TileLanes>(
        _: L.Type, _ line: UnsafePointer<Float>, _ m: Int,
        _ o: UnsafeMutablePointer<Float>, _ e: UnsafeMutablePointer<Float>
    ) {
        let (even, odd) = L.deinterleave(line + 2 * m)
        even.store(o + m)
        odd.store(e + m + 1)
    }

    @inline(__always)
    static func inputTiles<L: TileLanes>(
        _: L.Type, _ rows: UnsafePointer<Float>, _ n1: Int, _ m: Int,
        _ base: UnsafeMutablePointer<Float>, _ xiStride: Int
    ) {
        @inline(__always) func e(_ k: Int, _ at: Int) -> L { L(rows + k * n1 + at) }
        @inline(__always) func o(_ k: Int, _ at: Int) -> L { L(rows + (4 + k) * n1 + at) }
        // Patch column j of tile m: j = 0 -> E[m], 1 -> O[m], 2 -> E[m+1], 3 -> O[m+1].
        let e0 = e(0, m)
        let e1 = e(1, m)
        let e2 = e(2, m)
        let e3 = e(3, m)
        let f0 = e(0, m + 1)
        let f1 = e(1, m + 1)
        let f2 = e(2, m + 1)
        let f3 = e(3, m + 1)
        let o0 = o(0, m)
        let o1 = o(1, m)
        let o2 = o(2, m)
        let o3 = o(3, m)
        let p0 = o(0, m + 1)
        let p1 = o(1, m + 1)
        let p2 = o(2, m + 1)
        let p3 = o(3, m + 1)
        // Rows of B^T d: (d0 - d2, d1 + d2, d2 - d1, d1 - d3), each as its four columns.
        @inline(__always) func put(_ i: Int, _ a0: L, _ a1: L, _ a2: L, _ a3: L) {
            // Columns of (B^T d) B: (a0 - a2, a1 + a2, a2 - a1, a1 - a3).
            (a0 - a2).store(base + (4 * i + 0) * xiStride + m)
            (a1 + a2).store(base + (4 * i + 1) * xiStride + m)
            (a2 - a1).store(base + (4 * i + 2) * xiStride + m)
            (a1 - a3).store(base + (4 * i + 3) * xiStride + m)
        }
        put(0, e0 - e2, o0 - o2, f0 - f2, p0 - p2)
        put(1, e1 + e2, o1 + o2, f1 + f2, p1 + p2)
        put(2, e2 - e1, o2 - o1, f2 - f1, p2 - p1)
        put(3, e1 - e3, o1 - o3, f1 - f3, p1 - p3)
    }

    /// `y (+)= A^T M A` for every tile, M[ξ][o][t]; A^T = [[1, 1, 1, 0], [0, 1, -1, -1]].
    @inline(__always)
    func transformOutput(
        _ mt: UnsafePointer<Float>, images: Int, tileRows: Range<Int>, into y: UnsafeMutablePointer<Float>,
        accumulate: Bool, scratch: UnsafeMutablePointer<Float>
    ) {
        let tiles = images * tileRows.count * tilesX
        let xiStride = Self.xiStride(outChannels, tiles)
        forEachOutputTileRow(images: images, tileRows: tileRows) { row, tile in
            let s = mt + tile
            let row0 = y + row
            Self.alongRow(
                tilesX, { m in Self.outputTiles(SIMD8<Float>.self, s, xiStride, m, row0, width, accumulate) },
                { m in Self.outputTiles(SIMD4<Float>.self, s, xiStride, m, row0, width, accumulate) },
                { m in Self.outputTiles(Float.self, s, xiStride, m, row0, width, accumulate) })
        }
    }

    @inline(__always)
    static func outputTiles<L: TileLanes>(
        _: L.Type, _ s: UnsafePointer<Float>, _ xiStride: Int, _ m: Int,
        _ row0: UnsafeMutablePointer<Float>, _ width: Int, _ accumulate: Bool
    ) {
        @inline(__always) func q(_ xi: Int) -> L { L(s + xi * xiStride + m) }
        // Rows first: P0 = Q0 + Q1 + Q2, P1 = Q1 - Q2 - Q3, then the same on columns.
        let p00 = q(0) + q(4) + q(8)
        let p01 = q(1) + q(5) + q(9)
        let p02 = q(2) + q(6) + q(10)
        let p03 = q(3) + q(7) + q(11)
        let p10 = q(4) - q(8) - q(12)
        let p11 = q(5) - q(9) - q(13)
        let p12 = q(6) - q(10) - q(14)
        let p13 = q(7) - q(11) - q(15)
        let y00 = p00 + p01 + p02
        let y01 = p01 - p02 - p03
        let y10 = p10 + p11 + p12
        let y11 = p11 - p12 - p13
        L.interleave(y00, y01, to: row0 + 2 * m, accumulate: accumulate)
        L.interleave(y10, y11, to: row0 + width + 2 * m, accumulate: accumulate)
    }

}
