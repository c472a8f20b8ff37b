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
    /// `V[ξ][c][t]` for the tiles in the rows of tiles `tileRows` of `images` images; `rows` is the
    /// thread's scratch after V and M.
    func transformInput(
        _ x: UnsafePointer<Float>, images: Int, tileRows: Range<Int>, into v: UnsafeMutablePointer<Float>,
        rows: UnsafeMutablePointer<Float>)
    /// `y (+)= A^T M A` for every tile in the rows `tileRows`; `scratch` as `rows` above (F(2x2) needs none).
    func transformOutput(
        _ mt: UnsafePointer<Float>, images: Int, tileRows: Range<Int>, into y: UnsafeMutablePointer<Float>,
        accumulate: Bool, scratch: UnsafeMutablePointer<Float>)
    /// This tiling as one of the two forms (what the forward pass's parallel regions switch on).
    var form: WinogradForm { get }
}

/// F(2x2, 3x3) or F(4x4, 3x3). The forward regions hold one of these rather than being generic over
/// the tiling, so that the pool's workers run code specialised to each form (a generic type's
/// protocol conformance runs unspecialised, 3-6% slower at 2 threads).
enum WinogradForm {
    case f2(Winograd)
    case f4(Winograd4)
}

extension WinogradTiling {
    /// Positions ξ of a transformed tile, `(outputTile + 2)^2`: 16 or 36.
    static var positions: Int { (outputTile + 2) * (outputTile + 2) }
    var tilesX: Int { width / Self.outputTile }
    /// Rows of tiles in a plane.
    var tilesY: Int { height / Self.outputTile }
    var tilesPerImage: Int { height / Self.outputTile * tilesX }
    var groupTiles: Int { imagesPerGroup * tilesPerImage }

    /// The Winograd form of `conv` (a stride-1, padding-1 3x3 convolution).
    init(_ conv: Convolution) {
        self.init(
            inChannels: conv.inChannels, outChannels: conv.outChannels, height: conv.inHeight,
            width: conv.inWidth, imagesPerGroup: Self.imagesPerGroup(conv))
    }

    /// Images per group: the transformed tiles of a group, `positions * (Cin + Cout) * T` floats,
    /// stay near `Winograd.groupBudget`, but a group has at least `minimumGroupTiles` tiles: on small
    /// planes of many channels (ImageNet's 7x7 stage: 16 tiles an image, 512 channels) each product
    /// would otherwise stream a megabyte of U per position for a few tiles.
    static func imagesPerGroup(_ conv: Convolution) -> Int {
        let tiles = conv.inHeight / outputTile * (conv.inWidth / outputTile)
        let byBudget = Winograd.groupBudget / (positions * (conv.inChannels + conv.outChannels) * tiles)
        return max(1, byBudget, (Winograd.minimumGroupTiles + tiles - 1) / tiles)
    }

    /// Calls `body(row, tile)` for every row of output tiles of `images` output planes [Cout, H, W]
    /// (of the channels `channels`, all by default):
    /// `row` is the offset of the tile row's first element in the planes, `tile` the offset of its
    /// first tile in a group's `[Cout][T]` matrix.
    /// With `tileRows`, only those rows of tiles, numbered in the group as if they were the image's all.
    @inline(__always)
    func forEachOutputTileRow(
        images: Int, channels: Range<Int>? = nil, tileRows: Range<Int>? = nil, _ body: (Int, Int) -> Void
    ) {
        let rowRange = tileRows ?? 0..<tilesY
        let perImage = rowRange.count * tilesX
        let tiles = images * perImage
        let hw = height * width
        let side = Self.outputTile
        for image in 0..<images {
            for o in channels ?? 0..<outChannels {
                for r in rowRange {
                    body(
                        (image * outChannels + o) * hw + side * r * width,
                        o * tiles + image * perImage + (r - rowRange.lowerBound) * tilesX)
                }
            }
        }
    }

    /// `output[n] (+)= conv(input[n], U)` for the images `0..<batch`, U already transformed. Each
    /// thread takes a contiguous run of images and walks it group by group: transform the group's
    /// input, one product per position ξ, transform the output. With fewer images than threads (a
    /// small shard), each image's rows of tiles are split between threads instead. Every output is
    /// the same sum either way, so the bits do not depend on the split.
    func forward(
        input: UnsafePointer<Float>, transformedWeight u: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, batch: Int, accumulate: Bool,
        threads: Int, workspace: UnsafeMutablePointer<Float>
    ) {
        if batch < threads && batch > 0 {
            forwardSplittingImages(
                input: input, transformedWeight: u, output: output, batch: batch, accumulate: accumulate,
                threads: threads, workspace: workspace)
            return
        }
        let chunks = max(1, min(threads, batch))
        parallelChunks(
            chunks,
            WinogradForwardByImages(
                form: form, input: input, u: u, output: output, batch: batch, accumulate: accumulate,
                workspace: workspace, chunks: chunks))
    }

    /// `forward` for fewer images than threads: each image's rows of tiles in parts, the parts of all
    /// images shared out between the threads.
    func forwardSplittingImages(
        input: UnsafePointer<Float>, transformedWeight u: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, batch: Int, accumulate: Bool,
        threads: Int, workspace: UnsafeMutablePointer<Float>
    ) {
        let parts = min(tilesY, (threads + batch - 1) / batch)
        let items = batch * parts
        let chunks = min(threads, items)
        parallelChunks(
            chunks,
            WinogradForwardByTileRows(
                form: form, input: input, u: u, output: output, accumulate: accumulate, workspace: workspace,
                parts: parts, items: items, chunks: chunks))
    }

    /// Thread slot `t` of the forward pass's workspace: a group's transformed input V and output M,
    /// then the scratch of the transforms.
    @inline(__always)
    func forwardSlot(_ t: Int, of workspace: UnsafeMutablePointer<Float>) -> (
        v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Float>
    ) {
        let v = workspace + t * perThreadWorkspace
        let m = v + Self.positions * Winograd.xiStride(inChannels, groupTiles)
        return (v, m, m + Self.positions * Winograd.xiStride(outChannels, groupTiles))
    }

    /// `M[ξ] = U[ξ] V[ξ]` for every position ξ of a group of `tiles` tiles.
    @inline(__always)
    func product(
        _ u: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>, tiles: Int
    ) {
        for xi in 0..<Self.positions {
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
    }
}

// The forward pass's two parallel regions.

/// Chunk t: a contiguous run of images, group by group (`WinogradTiling.forward`).
struct WinogradForwardByImages: ParallelRegion {
    let form: WinogradForm
    let input: UnsafePointer<Float>
    let u: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let batch: Int
    let accumulate: Bool
    let workspace: UnsafeMutablePointer<Float>
    let chunks: Int

    func run(chunk t: Int) {
        switch form {
        case .f2(let tiling): run(chunk: t, tiling)
        case .f4(let tiling): run(chunk: t, tiling)
        }
    }

    @inline(__always) func run<Tiling: WinogradTiling>(chunk t: Int, _ tiling: Tiling) {
        let inSize = tiling.inChannels * tiling.height * tiling.width
        let outSize = tiling.outChannels * tiling.height * tiling.width
        let (v, m, rows) = tiling.forwardSlot(t, of: workspace)
        let range = chunkRange(t, of: chunks, count: batch)
        var first = range.lowerBound
        while first < range.upperBound {
            let images = min(tiling.imagesPerGroup, range.upperBound - first)
            let tiles = images * tiling.tilesPerImage
            tiling.transformInput(
                input + first * inSize, images: images, tileRows: 0..<tiling.tilesY, into: v, rows: rows)
            tiling.product(u, v, m, tiles: tiles)
            tiling.transformOutput(
                m, images: images, tileRows: 0..<tiling.tilesY, into: output + first * outSize,
                accumulate: accumulate, scratch: rows)
            first += images
        }
    }
}

/// Chunk t: a run of (image, part of its rows of tiles) items (`forwardSplittingImages`).
struct WinogradForwardByTileRows: ParallelRegion {
    let form: WinogradForm
    let input: UnsafePointer<Float>
    let u: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let accumulate: Bool
    let workspace: UnsafeMutablePointer<Float>
    let parts: Int
    let items: Int
    let chunks: Int

    func run(chunk t: Int) {
        switch form {
        case .f2(let tiling): run(chunk: t, tiling)
        case .f4(let tiling): run(chunk: t, tiling)
        }
    }

    @inline(__always) func run<Tiling: WinogradTiling>(chunk t: Int, _ tiling: Tiling) {
        let inSize = tiling.inChannels * tiling.height * tiling.width
        let outSize = tiling.outChannels * tiling.height * tiling.width
        let (v, m, rows) = tiling.forwardSlot(t, of: workspace)
        for item in chunkRange(t, of: chunks, count: items) {
            let image = item / parts
            let tileRows = chunkRange(item % parts, of: parts, count: tiling.tilesY)
            let tiles = tileRows.count * tiling.tilesX
            tiling.transformInput(input + image * inSize, images: 1, tileRows: tileRows, into: v, rows: rows)
            tiling.product(u, v, m, tiles: tiles)
            tiling.transformOutput(
                m, images: 1, tileRows: tileRows, into: output + image * outSize, accumulate: accumulate,
                scratch: rows)
        }
    }
}
