/// Winograd F(4x4, 3x3) (Lavin and Gray 2016, interpolation points 0, 1, -1, 2, -2, ∞) for the forward
/// pass, and so for backward-data (the forward of the transposed convolution), on planes whose sides
/// are multiples of 4 and at least 16 wide: the 32x32 and 16x16 stages of a CIFAR ResNet. A 4x4
/// output tile costs 36 multiplies per channel pair, against 64 for four F(2x2) tiles and 144 direct;
/// its transforms cost up to twice as much per output as F(2x2)'s (measured), which the fewer
/// products repay from 16 channels up. Each tile is
///
///     Y = A^T [ sum_c (G g G^T) ⊙ (B^T d B) ] A
///
/// for its 6x6 input patch d, so a group of tiles is 36 GEMMs `M[ξ] = U[ξ] V[ξ]` (see `Winograd`,
/// whose layout, grouping and product kernel this shares). The weight gradient stays F(2x2): an
/// F(4x4) one (36 dot products over a quarter as many tiles, dearer transforms) measured no faster.
///
///     B^T = [4  0 -5  0  1  0]     G = [ 1/4     0     0]     A^T = [1  1  1  1  1  0]
///           [0 -4 -4  1  1  0]         [-1/6  -1/6  -1/6]           [0  1 -1  2 -2  0]
///           [0  4 -4 -1  1  0]         [-1/6   1/6  -1/6]           [0  1  1  4  4  0]
///           [0 -2 -1  2  1  0]         [1/24  1/12   1/6]           [0  1 -1  8 -8  1]
///           [0  2 -1 -2  1  0]         [1/24 -1/12   1/6]
///           [0  4  0 -5  0  1]         [   0     0     1]
struct Winograd4: WinogradTiling {
    var form: WinogradForm { .f4(self) }
    static let outputTile = 4
    let inChannels: Int, outChannels: Int, height: Int, width: Int
    /// Images per group (see `WinogradTiling.imagesPerGroup`).
    let imagesPerGroup: Int

    /// Sides multiples of 4; at least four tiles across, so the transforms run in SIMD lanes.
    static func applies(height: Int, width: Int) -> Bool { height % 4 == 0 && width % 4 == 0 && width >= 16 }

    /// Floats of the transformed weights `U[36][Cout][Cin]`.
    var transformedWeightCount: Int { 36 * outChannels * inChannels }
    /// One row: the six vertically transformed rows of a tile row, each split into its four columns
    /// mod 4 (`tilesX + 1` floats each), then a row of zeros for the padding and the six transformed
    /// rows before the split.
    var rowsCount: Int { 24 * (tilesX + 1) + 7 * width }
    var perThreadWorkspace: Int {
        36 * (Winograd.xiStride(inChannels, groupTiles) + Winograd.xiStride(outChannels, groupTiles)) + rowsCount
    }

    // MARK: Weight transform

    /// `U[ξ][o][i] = (G g[o][i] G^T)[ξ]` for weights `g` laid out [Cout][Cin][3][3]. Eight planes at a
    /// time, one per lane.
    static func transformWeights(
        _ g: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
        into u: UnsafeMutablePointer<Float>, planes: Range<Int>? = nil, layout: KernelLayout = .direct
    ) {
        typealias L = KernelLanes.Lanes
        let plane = outChannels * inChannels
        @inline(__always) func apply(_ g0: L, _ g1: L, _ g2: L) -> (L, L, L, L, L, L) {
            let outer = g0 + g2
            return (
                g0 / 4, -(outer + g1) / 6, -(outer - g1) / 6,
                g0 / 24 + g1 / 12 + g2 / 6, g0 / 24 - g1 / 12 + g2 / 6, g2
            )
        }
        KernelLanes.forEachGroup(planes ?? 0..<plane, layout) { lanes in
            // t = G g (6x3), column by column; then each row of t times G^T.
            @inline(__always) func column(_ j: Int) -> (L, L, L, L, L, L) {
                apply(lanes.tap(j, of: g), lanes.tap(3 + j, of: g), lanes.tap(6 + j, of: g))
            }
            @inline(__always) func row(_ a: Int, _ t0: L, _ t1: L, _ t2: L) {
                let r = apply(t0, t1, t2)
                lanes.store(r.0, a * 6 + 0, to: u, planes: plane)
                lanes.store(r.1, a * 6 + 1, to: u, planes: plane)
                lanes.store(r.2, a * 6 + 2, to: u, planes: plane)
                lanes.store(r.3, a * 6 + 3, to: u, planes: plane)
                lanes.store(r.4, a * 6 + 4, to: u, planes: plane)
                lanes.store(r.5, a * 6 + 5, to: u, planes: plane)
            }
            let c0 = column(0)
            let c1 = column(1)
            let c2 = column(2)
            row(0, c0.0, c1.0, c2.0)
            row(1, c0.1, c1.1, c2.1)
            row(2, c0.2, c1.2, c2.2)
            row(3, c0.3, c1.3, c2.3)
            row(4, c0.4, c1.4, c2.4)
            row(5, c0.5, c1.5, c2.5)
        }
    }

    // MARK: Tile transforms

    /// `V[ξ][c][t] = (B^T d B)[ξ]` for every tile t of `images` images [Cin, H, W] at `x`. For each row of
    /// tiles, B^T runs first down the columns of the six input rows (whole rows, contiguous), and each
    /// transformed row is split into its columns mod 4, so that B then runs along the row of tiles in
    /// SIMD lanes: tile m's six columns are 4m-1 ... 4m+4.
    @inline(__always)
    func transformInput(
        _ x: UnsafePointer<Float>, images: Int, tileRows: Range<Int>, into v: UnsafeMutablePointer<Float>,
        rows: UnsafeMutablePointer<Float>
    ) {
        let tx = tilesX
        let perImage = tileRows.count * tx
        let w = width
        let hw = height * width
        let tiles = images * perImage
        let n1 = tx + 1
        let xiStride = Winograd.xiStride(inChannels, tiles)
        let zeros = rows + 24 * n1
        let scratch = zeros + w
        zeros.update(repeating: 0, count: w)
        for image in 0..<images {
            for c in 0..<inChannels {
                let plane = x + image * inChannels * hw + c * hw
                for r in tileRows {
                    @inline(__always) func line(_ k: Int) -> UnsafePointer<Float> {
                        let y = 4 * r - 1 + k
                        return y < 0 || y >= height ? UnsafePointer(zeros) : plane + y * w
                    }
                    let l0 = line(0)
                    let l1 = line(1)
                    let l2 = line(2)
                    let l3 = line(3)
                    let l4 = line(4)
                    let l5 = line(5)
                    Winograd.alongRow(
                        w, { i in Self.columnTransform(SIMD8<Float>.self, i, l0, l1, l2, l3, l4, l5, scratch, w) },
                        { i in Self.columnTransform(SIMD4<Float>.self, i, l0, l1, l2, l3, l4, l5, scratch, w) },
                        { i in Self.columnTransform(Float.self, i, l0, l1, l2, l3, l4, l5, scratch, w) })
                    for p in 0..<6 {
                        let transformed = UnsafePointer(scratch + p * w)
                        // Columns mod 4 of the transformed row: [0] P0[m] = col 4m (P0[tx] = 0), [1] P1[m] = col 4m+1,
                        // [2] P2[m] = col 4m+2, [3] P3[m+1] = col 4m+3 (P3[0] = 0).
                        let split = rows + p * 4 * n1
                        split[tx] = 0
                        split[3 * n1] = 0
                        Winograd.alongRow(
                            tx, { m in Self.splitColumns(SIMD8<Float>.self, transformed, m, split, n1) },
                            { m in Self.splitColumns(SIMD4<Float>.self, transformed, m, split, n1) },
                            { m in Self.splitColumns(Float.self, transformed, m, split, n1) })
                    }
                    // B along the row of tiles, one transformed row p at a time (six stores live, not 36).
                    let base = v + c * tiles + image * perImage + (r - tileRows.lowerBound) * tx
                    for p in 0..<6 {
                        let split = UnsafePointer(rows + p * 4 * n1)
                        let out = base + 6 * p * xiStride
                        Winograd.alongRow(
                            tx, { m in Self.inputTiles(SIMD8<Float>.self, split, n1, m, out, xiStride) },
                            { m in Self.inputTiles(SIMD4<Float>.self, split, n1, m, out, xiStride) },
                            { m in Self.inputTiles(Float.self, split, n1, m, out, xiStride) })
                    }
                }
            }
        }
    }

    /// B^T applied down the six input rows at columns `i ..< i + lanes`: six rows of `out`, `width` apart.
    @inline(__always)
    static func columnTransform<L: TileLanes>(
        _: L.Type, _ i: Int,
        _ l0: UnsafePointer<Float>, _ l1: UnsafePointer<Float>,
        _ l2: UnsafePointer<Float>, _ l3: UnsafePointer<Float>,
        _ l4: UnsafePointer<Float>, _ l5: UnsafePointer<Float>,
        _ out: UnsafeMutablePointer<Float>, _ width: Int
    ) {
        let r = bt(L(l0 + i), L(l1 + i), L(l2 + i), L(l3 + i), L(l4 + i), L(l5 + i))
        r.0.store(out + i)
        r.1.store(out + width + i)
        r.2.store(out + 2 * width + i)
        r.3.store(out + 3 * width + i)
        r.4.store(out + 4 * width + i)
        r.5.store(out + 5 * width + i)
    }

    /// B^T times (d0 ... d5).
    @inline(__always)
    static func bt<L: TileLanes>(_ d0: L, _ d1: L, _ d2: L, _ d3: L, _ d4: L, _ d5: L) -> (L, L, L, L, L, L) {
        let two = L(broadcast: 2)
        let four = L(broadcast: 4)
        let five = L(broadcast: 5)
        let a = d4 - d2
        let b = two * (d3 - d1)
        return (
            four * d0 - five * d2 + d4, (d3 + d4) - four * (d1 + d2), (d4 - d3) + four * (d1 - d2),
            a + b, a - b, four * d1 - five * d3 + d5
        )
    }

    @inline(__always)
    static func splitColumns<L: TileLanes>(
        _: L.Type, _ row: UnsafePointer<Float>, _ m: Int,
        _ split: UnsafeMutablePointer<Float>, _ n1: Int
    ) {
        let (c0, c1, c2, c3) = L.deinterleave4(row + 4 * m)
        c0.store(split + m)
        c1.store(split + n1 + m)
        c2.store(split + 2 * n1 + m)
        c3.store(split + 3 * n1 + m + 1)
    }

    /// Row p of B^T d B for the tiles `m ..< m + lanes`, from row p's columns mod 4 at `split`.
    @inline(__always)
    static func inputTiles<L: TileLanes>(
        _: L.Type, _ split: UnsafePointer<Float>, _ n1: Int, _ m: Int,
        _ out: UnsafeMutablePointer<Float>, _ xiStride: Int
    ) {
        // Tile m's columns 4m-1 ... 4m+4: P3[m], P0[m], P1[m], P2[m], P3[m+1], P0[m+1].
        let d0 = L(split + 3 * n1 + m)
        let d1 = L(split + m)
        let d2 = L(split + n1 + m)
        let d3 = L(split + 2 * n1 + m)
        let d4 = L(split + 3 * n1 + m + 1)
        let d5 = L(split + m + 1)
        let r = bt(d0, d1, d2, d3, d4, d5)
        let o = out + m
        r.0.store(o)
        r.1.store(o + xiStride)
        r.2.store(o + 2 * xiStride)
        r.3.store(o + 3 * xiStride)
        r.4.store(o + 4 * xiStride)
        r.5.store(o + 5 * xiStride)
    }

    /// `y (+)= A^T M A` for every tile, M[ξ][o][t].
    @inline(__always)
    func transformOutput(
        _ mt: UnsafePointer<Float>, images: Int, tileRows: Range<Int>, into y: UnsafeMutablePointer<Float>,
        accumulate: Bool, scratch: UnsafeMutablePointer<Float>
    ) {
        let tiles = images * tileRows.count * tilesX
        let xiStride = Winograd.xiStride(outChannels, tiles)
        forEachOutputTileRow(images: images, tileRows: tileRows) { row, tile in
            let s = mt + tile
            let row0 = y + row
            Winograd.alongRow(
                tilesX, { m in Self.outputTiles(SIMD8<Float>.self, s, xiStride, m, row0, width, accumulate, scratch) },
                { m in Self.outputTiles(SIMD4<Float>.self, s, xiStride, m, row0, width, accumulate, scratch) },
                { m in Self.outputTiles(Float.self, s, xiStride, m, row0, width, accumulate, scratch) })
        }
    }

    /// A^T times (m0 ... m5).
    @inline(__always)
    static func at<L: TileLanes>(_ m0: L, _ m1: L, _ m2: L, _ m3: L, _ m4: L, _ m5: L) -> (L, L, L, L) {
        let s12 = m1 + m2
        let d12 = m1 - m2
        let s34 = m3 + m4
        let d34 = m3 - m4
        return (
            m0 + s12 + s34, d12 + L(broadcast: 2) * d34, s12 + L(broadcast: 4) * s34, d12 + L(broadcast: 8) * d34 + m5
        )
    }

    /// Rows 0 and 2 of A^T times (m0 ... m5) (they share m1 + m2 and m3 + m4).
    @inline(__always)
    static func atEven<L: TileLanes>(_ m0: L, _ m1: L, _ m2: L, _ m3: L, _ m4: L) -> (L, L) {
        let s12 = m1 + m2
        let s34 = m3 + m4
        return (m0 + s12 + s34, s12 + L(broadcast: 4) * s34)
    }

    /// Rows 1 and 3 of A^T times (m0 ... m5) (they share m1 - m2 and m3 - m4).
    @inline(__always)
    static func atOdd<L: TileLanes>(_ m1: L, _ m2: L, _ m3: L, _ m4: L, _ m5: L) -> (L, L) {
        let d12 = m1 - m2
        let d34 = m3 - m4
        return (d12 + L(broadcast: 2) * d34, d12 + L(broadcast: 8) * d34 + m5)
    }

    /// One row of 4 x lanes tiles: down each column c of the 6x6 tiles first (rows 0 and 2 of A^T share
    /// their sums, as do 1 and 3), into `scratch` (24 runs of 8 floats), then along the four rows. Going
    /// through `scratch` one column at a time keeps a few values live; with all 36 loads in flight the
    /// compiler spilled most of them.
    @inline(__always)
    static func outputTiles<L: TileLanes>(
        _: L.Type, _ s: UnsafePointer<Float>, _ xiStride: Int, _ m: Int,
        _ row0: UnsafeMutablePointer<Float>, _ width: Int, _ accumulate: Bool,
        _ scratch: UnsafeMutablePointer<Float>
    ) {
        for c in 0..<6 {
            let p = s + c * xiStride + m
            let m0 = L(p)
            let m1 = L(p + 6 * xiStride)
            let m2 = L(p + 12 * xiStride)
            let m3 = L(p + 18 * xiStride)
            let m4 = L(p + 24 * xiStride)
            let m5 = L(p + 30 * xiStride)
            let even = atEven(m0, m1, m2, m3, m4)
            let odd = atOdd(m1, m2, m3, m4, m5)
            even.0.store(scratch + c * 8)
            odd.0.store(scratch + (6 + c) * 8)
            even.1.store(scratch + (12 + c) * 8)
            odd.1.store(scratch + (18 + c) * 8)
        }
        for row in 0..<4 {
            let t = scratch + row * 48
            let y = at(L(t), L(t + 8), L(t + 16), L(t + 24), L(t + 32), L(t + 40))
            L.interleave4(y.0, y.1, y.2, y.3, to: row0 + row * width + 4 * m, accumulate: accumulate)
        }
    }
}
