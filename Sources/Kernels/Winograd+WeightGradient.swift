/// F(2x2, 3x3) backward-weights: the weight gradient computed in the transformed domain,
/// dg = G^T dU G, with the 16 tile products in our own kernel.
extension Winograd {
    /// Groups of `gradientImagesPerGroup` images, cut from image 0 whatever the thread count: the
    /// unit whose 16 tile products are summed into the weight gradient, in group order.
    func gradientGroups(batch: Int) -> Int { (batch + gradientImagesPerGroup - 1) / gradientImagesPerGroup }

    /// Floats after the threads' slots that `backwardWeights` needs for `batch` images: one
    /// transformed-domain product per group that a thread other than the first computes.
    func gradientGroupStorage(batch: Int) -> Int { gradientGroups(batch: batch) * transformedWeightCount }

    /// `weightGrad = sum_n dconv/dW` for the images `0..<batch` (overwrites). The sum in the
    /// transformed domain is `((P_0 + P_1) + P_2) + ...` over the groups' products P_j, in group order,
    /// at any thread count, so the bits do not depend on it:
    ///   - at least as many groups as threads: each thread takes a run of whole groups; the first run
    ///     is summed in place as it goes, the others' products are kept and added in order after;
    ///   - fewer groups than threads (a small shard): the threads share each group, splitting its
    ///     transforms by channels and its 16 products by position ξ.
    /// `workspace` holds `threads` slots of `perThreadWorkspace` floats, then
    /// `gradientGroupStorage(batch:)` floats.
    func backwardWeights(
        input: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>,
        weightGrad: UnsafeMutablePointer<Float>, batch: Int,
        threads: Int, workspace: UnsafeMutablePointer<Float>
    ) {
        let plan = WeightGradientPlan(winograd: self, input: input, outputGrad: outputGrad, batch: batch, workspace: workspace, threads: threads)
        let groups = gradientGroups(batch: batch)
        var keptFrom = groups  // groups kept for adding after the first run (none unless split by groups)
        if groups == 0 {
            plan.total.update(repeating: 0, count: plan.uCount)
        } else if groups >= threads {
            let chunks = max(1, min(threads, groups))
            keptFrom = chunkRange(0, of: chunks, count: groups).upperBound
            parallelChunks(chunks, WeightGradientByGroups(plan: plan, groups: groups, chunks: chunks))
        } else {
            let transformChunks = min(threads, inChannels + outChannels)
            let productChunks = min(threads, 16)
            for group in 0..<groups {
                let range = plan.images(group)
                // Channels 0..<Cin of V, then Cout of Z, split over the threads (each with its own scratch).
                parallelChunks(transformChunks, GroupTransformsByChannels(plan: plan, images: range, chunks: transformChunks))
                parallelChunks(
                    productChunks,
                    GroupProductsByPosition(
                        plan: plan, tiles: range.count * tilesPerImage, accumulate: group > 0, chunks: productChunks))
            }
        }
        // The kept products added in group order, then G^T dU G: both by runs of (o, i) planes, over
        // the threads too when there are enough planes to repay a parallel region.
        let plane = outChannels * inChannels
        let planeChunks = Self.weightTransformChunks(plane: plane, threads: threads)
        parallelChunks(
            planeChunks,
            WeightGradientByPlanes(
                plan: plan, weightGrad: weightGrad, keptGroups: keptFrom..<groups, chunks: planeChunks))
    }

    /// `dg[o][i] = G^T dU[.][o][i] G` (the adjoint of `transformWeights`), overwriting `dg`. Eight
    /// planes at a time, one per lane.
    static func transformWeightGradient(
        _ du: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
        into dg: UnsafeMutablePointer<Float>, planes: Range<Int>? = nil
    ) {
        typealias L = KernelLanes.Lanes
        let plane = outChannels * inChannels
        KernelLanes.forEachGroup(planes ?? 0..<plane, .direct) { lanes in
            // s = G^T du (3x4), column by column; G^T = [[1, 1/2, 1/2, 0], [0, 1/2, -1/2, 0], [0, 1/2, 1/2, 1]].
            @inline(__always) func column(_ j: Int) -> (L, L, L) {
                let d0 = lanes.load(0 + j, from: du, planes: plane)
                let d1 = lanes.load(4 + j, from: du, planes: plane)
                let d2 = lanes.load(8 + j, from: du, planes: plane)
                let d3 = lanes.load(12 + j, from: du, planes: plane)
                return (d0 + (d1 + d2) * 0.5, (d1 - d2) * 0.5, (d1 + d2) * 0.5 + d3)
            }
            // dg = s G, row by row.
            @inline(__always) func row(_ i: Int, _ r0: L, _ r1: L, _ r2: L, _ r3: L) {
                lanes.setTap(i * 3 + 0, r0 + (r1 + r2) * 0.5, of: dg)
                lanes.setTap(i * 3 + 1, (r1 - r2) * 0.5, of: dg)
                lanes.setTap(i * 3 + 2, (r1 + r2) * 0.5 + r3, of: dg)
            }
            let s0 = column(0)
            let s1 = column(1)
            let s2 = column(2)
            let s3 = column(3)
            row(0, s0.0, s1.0, s2.0, s3.0)
            row(1, s0.1, s1.1, s2.1, s3.1)
            row(2, s0.2, s1.2, s2.2, s3.2)
        }
    }

    /// `Z[ξ][o][t] = (A dY A^T)[ξ]` for every 2x2 tile of the output gradient [Cout, H, W] (of the
    /// output channels `channels`, all by default): the gradient of the tile's M. A = [[1, 0], [1, 1], [1, -1], [0, -1]].
    @inline(__always)
    func transformOutputGrad(
        _ dy: UnsafePointer<Float>, images: Int, channels: Range<Int>? = nil, into z: UnsafeMutablePointer<Float>
    ) {
        let tiles = images * tilesPerImage
        let xiStride = Self.xiStride(outChannels, tiles)
        forEachOutputTileRow(images: images, channels: channels ?? 0..<outChannels) { row, tile in
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

/// Where `Winograd.backwardWeights` keeps what in its workspace, and the pieces its parallel regions
/// share. Slot t: the transformed input V and output gradient Z of a group, then a tile row's
/// scratch; the first slot's last `uCount` floats hold the running sum; after the slots, the
/// products kept for adding in group order.
struct WeightGradientPlan {
    let winograd: Winograd
    let input: UnsafePointer<Float>
    let outputGrad: UnsafePointer<Float>
    let batch: Int
    let workspace: UnsafeMutablePointer<Float>
    let perThread: Int
    let uCount: Int
    let total: UnsafeMutablePointer<Float>
    let kept: UnsafeMutablePointer<Float>
    let inSize: Int
    let outSize: Int

    init(
        winograd: Winograd, input: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>, batch: Int,
        workspace: UnsafeMutablePointer<Float>, threads: Int
    ) {
        self.winograd = winograd
        self.input = input
        self.outputGrad = outputGrad
        self.batch = batch
        self.workspace = workspace
        perThread = winograd.perThreadWorkspace
        uCount = winograd.transformedWeightCount
        total = workspace + (perThread - uCount)
        kept = workspace + threads * perThread
        inSize = winograd.inChannels * winograd.height * winograd.width
        outSize = winograd.outChannels * winograd.height * winograd.width
    }

    @inline(__always) func v(_ t: Int) -> UnsafeMutablePointer<Float> { workspace + t * perThread }
    @inline(__always) func z(_ t: Int) -> UnsafeMutablePointer<Float> {
        v(t) + 16 * Winograd.xiStride(winograd.inChannels, winograd.gradientGroupTiles)
    }
    @inline(__always) func rows(_ t: Int) -> UnsafeMutablePointer<Float> {
        z(t) + 16 * Winograd.xiStride(winograd.outChannels, winograd.gradientGroupTiles)
    }

    /// The images of gradient group `group`.
    @inline(__always) func images(_ group: Int) -> Range<Int> {
        let per = winograd.gradientImagesPerGroup
        return group * per..<min((group + 1) * per, batch)
    }

    /// The 16 products of one transformed group, positions `positions`, into `d` (+= with `accumulate`).
    @inline(__always) func products(
        _ vt: UnsafePointer<Float>, _ zt: UnsafePointer<Float>, tiles: Int, positions: Range<Int>,
        into d: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let (outChannels, inChannels) = (winograd.outChannels, winograd.inChannels)
        for xi in positions {
            let zx = zt + xi * Winograd.xiStride(outChannels, tiles)
            let vx = vt + xi * Winograd.xiStride(inChannels, tiles)
            let dx = d + xi * uCount / 16
            if TileProduct.supports(rows: outChannels) {
                TileProduct.multiplyTransposed(
                    rows: outChannels, cols: inChannels, tiles: tiles, z: zx, v: vx, d: dx, accumulate: accumulate)
            } else {
                sgemm(
                    transposeA: false, transposeB: true, m: outChannels, n: inChannels, k: tiles,
                    a: zx, lda: tiles, b: vx, ldb: tiles, beta: accumulate ? 1 : 0, c: dx, ldc: inChannels)
            }
        }
    }
}

// The parallel regions of `Winograd.backwardWeights`.

/// At least as many groups as threads: chunk t takes a run of whole groups, transforms each in its
/// own slot and multiplies; the first run sums into the total as it goes, the others' products are
/// kept, one per group.
struct WeightGradientByGroups: ParallelRegion {
    let plan: WeightGradientPlan
    let groups: Int
    let chunks: Int

    func run(chunk t: Int) {
        let winograd = plan.winograd
        for group in chunkRange(t, of: chunks, count: groups) {
            let range = plan.images(group)
            winograd.transformInput(
                plan.input + range.lowerBound * plan.inSize, images: range.count, tileRows: 0..<winograd.tilesY,
                into: plan.v(t), rows: plan.rows(t))
            winograd.transformOutputGrad(
                plan.outputGrad + range.lowerBound * plan.outSize, images: range.count, into: plan.z(t))
            plan.products(
                plan.v(t), plan.z(t), tiles: range.count * winograd.tilesPerImage, positions: 0..<16,
                into: t == 0 ? plan.total : plan.kept + group * plan.uCount, accumulate: t == 0 && group > 0)
        }
    }
}

/// Fewer groups than threads: one group's transforms, channels 0..<Cin of V then Cout of Z split
/// between the chunks (each with its own scratch rows), into the first slot.
struct GroupTransformsByChannels: ParallelRegion {
    let plan: WeightGradientPlan
    let images: Range<Int>
    let chunks: Int

    func run(chunk t: Int) {
        let winograd = plan.winograd
        let (inChannels, outChannels) = (winograd.inChannels, winograd.outChannels)
        let part = chunkRange(t, of: chunks, count: inChannels + outChannels)
        let inputPart = part.clamped(to: 0..<inChannels)
        let gradientPart = (part.lowerBound - inChannels)..<(part.upperBound - inChannels)
        if !inputPart.isEmpty {
            winograd.transformInput(
                plan.input + images.lowerBound * plan.inSize, images: images.count, channels: inputPart,
                tileRows: 0..<winograd.tilesY, into: plan.v(0), rows: plan.rows(t))
        }
        let outputPart = gradientPart.clamped(to: 0..<outChannels)
        if !outputPart.isEmpty {
            winograd.transformOutputGrad(
                plan.outputGrad + images.lowerBound * plan.outSize, images: images.count, channels: outputPart,
                into: plan.z(0))
        }
    }
}

/// Fewer groups than threads: that group's 16 products, split by position ξ, into the total.
struct GroupProductsByPosition: ParallelRegion {
    let plan: WeightGradientPlan
    let tiles: Int
    let accumulate: Bool
    let chunks: Int

    func run(chunk t: Int) {
        plan.products(
            plan.v(0), plan.z(0), tiles: tiles, positions: chunkRange(t, of: chunks, count: 16), into: plan.total,
            accumulate: accumulate)
    }
}

/// By runs of (o, i) planes: the kept products added to the total in group order, then G^T dU G.
struct WeightGradientByPlanes: ParallelRegion {
    let plan: WeightGradientPlan
    let weightGrad: UnsafeMutablePointer<Float>
    let keptGroups: Range<Int>
    let chunks: Int

    func run(chunk s: Int) {
        let winograd = plan.winograd
        let plane = winograd.outChannels * winograd.inChannels
        let total = plan.total
        let planes = chunkRange(s, of: chunks, count: plane)
        for group in keptGroups {
            let product = plan.kept + group * plan.uCount
            for xi in 0..<16 {
                for p in planes { total[xi * plane + p] += product[xi * plane + p] }
            }
        }
        Winograd.transformWeightGradient(
            total, outChannels: winograd.outChannels, inChannels: winograd.inChannels, into: weightGrad,
            planes: planes)
    }
}
