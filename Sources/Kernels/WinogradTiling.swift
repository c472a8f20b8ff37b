/// What the forward pass needs of a Winograd algorithm, F(2x2) (`Winograd`) or F(4x4) (`Winograd4`):
/// one driver serves both.
protocol WinogradTiling {
    /// Side of an output tile: 2 for F(2x2, 3x3), 4 for F(4x4, 3x3).
    static var outputTile: Int { get }
    var inChannels: Int { get }
    var outChannels: Int { get }
    var height: Int { get }
    var width: Int { get }
    var imagesPerGroup: Int { get }
    var perThreadWorkspace: Int { get }
    init(inChannels: Int, outChannels: Int, height: Int, width: Int, imagesPerGroup: Int)
    /// `V[ξ][c][t]` for the tiles of `images` images; `rows` is the thread's scratch after V and M.
    func transformInput(
        _ x: UnsafePointer<Float>, images: Int, into v: UnsafeMutablePointer<Float>,
        rows: UnsafeMutablePointer<Float>)
    /// `y (+)= A^T M A` for every tile; `scratch` as `rows` above (F(2x2) needs none).
    func transformOutput(
        _ mt: UnsafePointer<Float>, images: Int, into y: UnsafeMutablePointer<Float>,
        accumulate: Bool, scratch: UnsafeMutablePointer<Float>)
}

extension WinogradTiling {
    /// Positions ξ of a transformed tile, `(outputTile + 2)^2`: 16 or 36.
    static var positions: Int { (outputTile + 2) * (outputTile + 2) }
    var tilesX: Int { width / Self.outputTile }
    var tilesPerImage: Int { height / Self.outputTile * tilesX }
    var groupTiles: Int { imagesPerGroup * tilesPerImage }

    /// The Winograd form of `conv` (a stride-1, padding-1 3x3 convolution).
    init(_ conv: Convolution) {
        self.init(
            inChannels: conv.inChannels, outChannels: conv.outChannels, height: conv.inHeight,
            width: conv.inWidth, imagesPerGroup: Self.imagesPerGroup(conv))
    }

    /// Images per group: the transformed tiles of a group, `positions * (Cin + Cout) * T` floats,
    /// stay near `Winograd.groupBudget`.
    static func imagesPerGroup(_ conv: Convolution) -> Int {
        let tiles = conv.inHeight / outputTile * (conv.inWidth / outputTile)
        return max(1, Winograd.groupBudget / (positions * (conv.inChannels + conv.outChannels) * tiles))
    }

    /// Calls `body(row, tile)` for every row of output tiles of `images` output planes [Cout, H, W]:
    /// `row` is the offset of the tile row's first element in the planes, `tile` the offset of its
    /// first tile in a group's `[Cout][T]` matrix.
    @inline(__always)
    func forEachOutputTileRow(images: Int, _ body: (Int, Int) -> Void) {
        let tiles = images * tilesPerImage
        let hw = height * width
        let side = Self.outputTile
        for image in 0..<images {
            for o in 0..<outChannels {
                for r in 0..<height / side {
                    body(
                        (image * outChannels + o) * hw + side * r * width,
                        o * tiles + image * tilesPerImage + r * tilesX)
                }
            }
        }
    }

    /// `output[n] (+)= conv(input[n], U)` for the images `0..<batch`, U already transformed. Each
    /// thread takes a contiguous run of images and walks it group by group: transform the group's
    /// input, one product per position ξ, transform the output.
    func forward(
        input: UnsafePointer<Float>, transformedWeight u: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, batch: Int, accumulate: Bool,
        threads: Int, workspace: UnsafeMutablePointer<Float>
    ) {
        let chunks = max(1, min(threads, batch))
        let perThread = perThreadWorkspace
        let positions = Self.positions
        let inSize = inChannels * height * width
        let outSize = outChannels * height * width
        parallelChunks(chunks) { t in
            let v = workspace + t * perThread
            let m = v + positions * Winograd.xiStride(inChannels, groupTiles)
            let rows = m + positions * Winograd.xiStride(outChannels, groupTiles)
            let range = chunkRange(t, of: chunks, count: batch)
            var first = range.lowerBound
            while first < range.upperBound {
                let images = min(imagesPerGroup, range.upperBound - first)
                let tiles = images * tilesPerImage
                transformInput(input + first * inSize, images: images, into: v, rows: rows)
                for xi in 0..<positions {
                    let ux = u + xi * outChannels * inChannels
                    let vx = v + xi * Winograd.xiStride(inChannels, tiles)
                    let mx = m + xi * Winograd.xiStride(outChannels, tiles)
                    if TileProduct.supports(rows: outChannels) {
                        TileProduct.multiply(rows: outChannels, inner: inChannels, tiles: tiles, u: ux, v: vx, m: mx)
                    } else {
                        sgemm(
                            transposeA: false, transposeB: false, m: outChannels, n: tiles, k: inChannels,
                            a: ux, lda: inChannels, b: vx, ldb: tiles, beta: 0, c: mx, ldc: tiles)
                    }
                }
                transformOutput(
                    m, images: images, into: output + first * outSize, accumulate: accumulate,
                    scratch: rows)
                first += images
            }
        }
    }
}
