/// Eight consecutive (output, input) channel planes of a 3x3 convolution's weights, one plane per
/// SIMD lane, for the Winograd weight transforms.
///
/// A transform of one plane is a few dozen scalar operations (F(4x4)'s has sixty-odd divisions),
/// and at a small shard it runs as often as the tile products that use it: at 4 images per rank
/// the weight transforms were a quarter of ResNet-110's step. Taken eight planes at a time, each
/// lane does exactly the operations the one-plane form did, in the same order, so the transformed
/// weights keep their bits. The transformed layout `[ξ][plane]` is contiguous in the plane, so a
/// lane group stores with one vector store per position.
struct KernelLanes {
    typealias Lanes = SIMD8<Float>
    static let width = Lanes.scalarCount

    /// The planes `first..<first + count` (count at most `width`); lanes past `count` hold 0 and
    /// are never stored.
    let first: Int
    let count: Int
    /// Where lane 0's kernel starts in the weights, how far apart the lanes' kernels are, and
    /// whether the taps run backwards.
    private let base: Int
    private let laneStride: Int
    private let flipped: Bool

    @inline(__always)
    private init(first: Int, count: Int, base: Int, laneStride: Int, flipped: Bool) {
        (self.first, self.count) = (first, count)
        (self.base, self.laneStride, self.flipped) = (base, laneStride, flipped)
    }

    /// Calls `body` for each lane group of `planes`: runs of `width` planes, shorter where a run
    /// would cross a row of the transposed layout (so that a group's kernels are evenly spaced).
    @inline(__always)
    static func forEachGroup(_ planes: Range<Int>, _ layout: KernelLayout, _ body: (KernelLanes) -> Void) {
        var first = planes.lowerBound
        switch layout {
        case .direct:
            while first < planes.upperBound {
                let count = min(width, planes.upperBound - first)
                body(KernelLanes(first: first, count: count, base: first * 9, laneStride: 9, flipped: false))
                first += count
            }
        case .flippedTransposed(let outChannels, let inChannels):
            // Plane ci * Cout + co of the transposed convolution is kernel (co, ci), flipped.
            while first < planes.upperBound {
                let (ci, co) = first.quotientAndRemainder(dividingBy: outChannels)
                let count = min(width, planes.upperBound - first, outChannels - co)
                body(
                    KernelLanes(
                        first: first, count: count, base: (co * inChannels + ci) * 9, laneStride: inChannels * 9,
                        flipped: true))
                first += count
            }
        }
    }

    /// Tap `k` (row-major in the 3x3 kernel) of each lane's kernel in `weights`.
    @inline(__always)
    func tap(_ k: Int, of weights: UnsafePointer<Float>) -> Lanes {
        let w = weights + base + (flipped ? 8 - k : k)
        let s = laneStride
        if count == Self.width {
            return Lanes(w[0], w[s], w[2 * s], w[3 * s], w[4 * s], w[5 * s], w[6 * s], w[7 * s])
        }
        var v = Lanes()
        for lane in 0..<count { v[lane] = w[lane * s] }
        return v
    }

    /// Position `xi` of each plane in a transformed layout `[ξ][plane]` of `planes` planes.
    @inline(__always)
    func load(_ xi: Int, from u: UnsafePointer<Float>, planes: Int) -> Lanes {
        let at = u + xi * planes + first
        if count == Self.width { return UnsafeRawPointer(at).loadUnaligned(as: Lanes.self) }
        var v = Lanes()
        for lane in 0..<count { v[lane] = at[lane] }
        return v
    }

    /// Writes `v` to position `xi` of each plane in a transformed layout `[ξ][plane]`.
    @inline(__always)
    func store(_ v: Lanes, _ xi: Int, to u: UnsafeMutablePointer<Float>, planes: Int) {
        let at = u + xi * planes + first
        if count == Self.width {
            UnsafeMutableRawPointer(at).storeBytes(of: v, as: Lanes.self)
        } else {
            for lane in 0..<count { at[lane] = v[lane] }
        }
    }

    /// Writes `v` as tap `k` of each lane's kernel in `weights` (laid out `.direct`).
    @inline(__always)
    func setTap(_ k: Int, _ v: Lanes, of weights: UnsafeMutablePointer<Float>) {
        let w = weights + first * 9 + k
        if count == Self.width {
            w[0] = v[0]
            w[9] = v[1]
            w[18] = v[2]
            w[27] = v[3]
            w[36] = v[4]
            w[45] = v[5]
            w[54] = v[6]
            w[63] = v[7]
        } else {
            for lane in 0..<count { w[lane * 9] = v[lane] }
        }
    }
}

/// How a transform finds the 3x3 kernel of its plane p = o * Cin + i.
enum KernelLayout: Equatable {
    /// Weights laid out [Cout][Cin][3][3]: kernel p at `9 p`.
    case direct
    /// Backward-data's transposed convolution read from the forward weights [Cout][Cin][3][3] of
    /// the convolution it transposes (`outChannels` = that Cout, `inChannels` = that Cin): its plane
    /// ci * Cout + co is the forward kernel (co, ci) turned by 180 degrees.
    case flippedTransposed(outChannels: Int, inChannels: Int)
}
