/// F(2x2, 3x3) backward-weights: the weight gradient computed in the transformed domain,
/// dg = G^T dU G, with the 16 tile products in our own kernel.
extension Winograd {
    /// `weightGrad = sum_n dconv/dW` for the images `0..<batch` (overwrites). Per-thread partial sums
    /// are added in thread order, so the result is deterministic for a given thread count.
    func backwardWeights(
        input: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>,
        weightGrad: UnsafeMutablePointer<Float>, batch: Int,
        threads: Int, workspace: UnsafeMutablePointer<Float>
    ) {
        let chunks = max(1, min(threads, batch))
        let perThread = perThreadWorkspace
        let inSize = inChannels * height * width
        let outSize = outChannels * height * width
        let uCount = transformedWeightCount
        parallelChunks(chunks) { t in
            let v = workspace + t * perThread
            let z = v + 16 * Self.xiStride(inChannels, gradientGroupTiles)
            let rows = z + 16 * Self.xiStride(outChannels, gradientGroupTiles)
            let partial = rows + 8 * (tilesX + 1)
            let range = chunkRange(t, of: chunks, count: batch)
            var first = range.lowerBound
            var beta: Float = 0
            while first < range.upperBound {
                let images = min(gradientImagesPerGroup, range.upperBound - first)
                let tiles = images * tilesPerImage
                transformInput(input + first * inSize, images: images, into: v, rows: rows)
                transformOutputGrad(outputGrad + first * outSize, images: images, into: z)
                for xi in 0..<16 {
                    let zx = z + xi * Self.xiStride(outChannels, tiles)
                    let vx = v + xi * Self.xiStride(inChannels, tiles)
                    let dx = partial + xi * uCount / 16
                    if TileProduct.supports(rows: outChannels) {
                        TileProduct.multiplyTransposed(
                            rows: outChannels, cols: inChannels, tiles: tiles,
                            z: zx, v: vx, d: dx, accumulate: beta != 0)
                    } else {
                        sgemm(
                            transposeA: false, transposeB: true, m: outChannels, n: inChannels, k: tiles,
                            a: zx, lda: tiles, b: vx, ldb: tiles, beta: beta, c: dx, ldc: inChannels)
                    }
                }
                beta = 1
                first += images
            }
            if beta == 0 { partial.update(repeating: 0, count: uCount) }
        }
        // The threads' partial sums added in thread order, then G^T dU G: both by runs of (o, i) planes,
        // over the threads too when there are enough planes to repay a parallel region.
        let total = workspace + (perThread - uCount)
        let plane = outChannels * inChannels
        let planeChunks = Self.weightTransformChunks(plane: plane, threads: threads)
        parallelChunks(planeChunks) { s in
            let planes = chunkRange(s, of: planeChunks, count: plane)
            for t in 1..<chunks {
                let partial = workspace + t * perThread + (perThread - uCount)
                for xi in 0..<16 {
                    for p in planes { total[xi * plane + p] += partial[xi * plane + p] }
                }
            }
            Self.transformWeightGradient(
                total, outChannels: outChannels, inChannels: inChannels, into: weightGrad, planes: planes)
        }
    }

    /// `dg[o][i] = G^T dU[.][o][i] G` (the adjoint of `transformWeights`), overwriting `dg`.
    static func transformWeightGradient(
        _ du: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
        into dg: UnsafeMutablePointer<Float>, planes: Range<Int>? = nil
    ) {
        let plane = outChannels * inChannels
        for p in planes ?? 0..<plane {
            // s = G^T du (3x4), column by column; G^T = [[1, 1/2, 1/2, 0], [0, 1/2, -1/2, 0], [0, 1/2, 1/2, 1]].
            var s = (SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>())
            for j in 0..<4 {
                let d0 = du[(0 + j) * plane + p]
                let d1 = du[(4 + j) * plane + p]
                let d2 = du[(8 + j) * plane + p]
                let d3 = du[(12 + j) * plane + p]
                s.0[j] = d0 + (d1 + d2) * 0.5
                s.1[j] = (d1 - d2) * 0.5
                s.2[j] = (d1 + d2) * 0.5 + d3
            }
            // dg = s G, row by row.
            let w = dg + p * 9
            for i in 0..<3 {
                let r = i == 0 ? s.0 : (i == 1 ? s.1 : s.2)
                w[i * 3 + 0] = r[0] + (r[1] + r[2]) * 0.5
                w[i * 3 + 1] = (r[1] - r[2]) * 0.5
                w[i * 3 + 2] = (r[1] + r[2]) * 0.5 + r[3]
            }
        }
    }

    /// `Z[ξ][o][t] = (A dY A^T)[ξ]` for every 2x2 tile of the output gradient [Cout, H, W]:
    /// the gradient of the tile's M. A = [[1, 0], [1, 1], [1, -1], [0, -1]].
    @inline(__always)
    func transformOutputGrad(_ dy: UnsafePointer<Float>, images: Int, into z: UnsafeMutablePointer<Float>) {
        let tiles = images * tilesPerImage
        let xiStride = Self.xiStride(outChannels, tiles)
        forEachOutputTileRow(images: images) { row, tile in
            let row0 = dy + row
            let base = z + tile
            Self.alongRow(
                tilesX, { m in Self.gradientTiles(SIMD8<Float>.self, row0, width, m, base, xiStride) },
                { m in Self.gradientTiles(SIMD4<Float>.self, row0, width, m, base, xiStride) },
                { m in Self.gradientTiles(Float.self, row0, width, m, base, xiStride) })
        }
    }

    @inline(__always)
    static func gradientTiles<L: TileLanes>(
        _: L.Type, _ row0: UnsafePointer<Float>, _ width: Int, _ m: Int,
        _ base: UnsafeMutablePointer<Float>, _ xiStride: Int
    ) {
        let (d00, d01) = L.deinterleave(row0 + 2 * m)
        let (d10, d11) = L.deinterleave(row0 + width + 2 * m)
        @inline(__always) func put(_ i: Int, _ a0: L, _ a1: L) {
            // Columns: (a0, a0 + a1, a0 - a1, -a1).
            a0.store(base + (4 * i + 0) * xiStride + m)
            (a0 + a1).store(base + (4 * i + 1) * xiStride + m)
            (a0 - a1).store(base + (4 * i + 2) * xiStride + m)
            (-a1).store(base + (4 * i + 3) * xiStride + m)
        }
        // Rows: (d0, d0 + d1, d0 - d1, -d1).
        put(0, d00, d01)
        put(1, d00 + d10, d01 + d11)
        put(2, d00 - d10, d01 - d11)
        put(3, -d10, -d11)
    }
}
