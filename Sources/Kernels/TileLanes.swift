/// A run of adjacent floats in SIMD lanes (or one float): what the product kernels need, so one
/// generic body serves every width: 16 lanes on AVX-512, 8 on AVX2, 4 on NEON and SSE.
protocol ProductLanes {
    static var lanes: Int { get }
    static var zero: Self { get }
    init(_ p: UnsafePointer<Float>)
    init(broadcast: Float)
    func store(_ p: UnsafeMutablePointer<Float>)
    func addingProduct(_ a: Self, _ b: Self) -> Self
}

extension ProductLanes where Self: SIMD, Self.Scalar == Float {
    @inline(__always) static var lanes: Int { scalarCount }
    @inline(__always) init(_ p: UnsafePointer<Float>) { self = UnsafeRawPointer(p).loadUnaligned(as: Self.self) }
    @inline(__always) init(broadcast x: Float) { self.init(repeating: x) }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self)
    }
}

extension SIMD16: ProductLanes where Scalar == Float {}
extension SIMD8: ProductLanes where Scalar == Float {}
extension SIMD4: ProductLanes where Scalar == Float {}

/// A run of adjacent Winograd tiles handled at once, in SIMD lanes or one at a time: the element
/// type of the tile transforms and the product kernels, so one generic body serves every width.
protocol TileLanes: ProductLanes {
    /// The even- and odd-indexed floats of the run of twice the lanes at `p`.
    static func deinterleave(_ p: UnsafePointer<Float>) -> (Self, Self)
    /// Stores `even` and `odd` alternately at `p` (adds to what is there with `accumulate`).
    static func interleave(_ even: Self, _ odd: Self, to p: UnsafeMutablePointer<Float>, accumulate: Bool)
    /// The floats at `p`, `p + 4`, ... (lanes of `.0`), `p + 1`, `p + 5`, ... (`.1`), and so on: four
    /// runs of every fourth float of the run of four times the lanes at `p`.
    static func deinterleave4(_ p: UnsafePointer<Float>) -> (Self, Self, Self, Self)
    /// The adjoint: stores `a[i], b[i], c[i], d[i]` at `p + 4i ...` (adds with `accumulate`).
    static func interleave4(
        _ a: Self, _ b: Self, _ c: Self, _ d: Self, to p: UnsafeMutablePointer<Float>,
        accumulate: Bool)
    static func + (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static prefix func - (a: Self) -> Self
}

extension Float: TileLanes {
    @inline(__always) static var lanes: Int { 1 }
    @inline(__always) init(_ p: UnsafePointer<Float>) { self = p[0] }
    @inline(__always) init(broadcast x: Float) { self = x }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { p[0] = self }
    @inline(__always) static func deinterleave(_ p: UnsafePointer<Float>) -> (Float, Float) { (p[0], p[1]) }
    @inline(__always) static func interleave(
        _ even: Float, _ odd: Float, to p: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        if accumulate {
            p[0] += even
            p[1] += odd
        } else {
            p[0] = even
            p[1] = odd
        }
    }
    @inline(__always) static func deinterleave4(_ p: UnsafePointer<Float>) -> (Float, Float, Float, Float) {
        (p[0], p[1], p[2], p[3])
    }
    @inline(__always) static func interleave4(
        _ a: Float, _ b: Float, _ c: Float, _ d: Float,
        to p: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        if accumulate {
            p[0] += a
            p[1] += b
            p[2] += c
            p[3] += d
        } else {
            p[0] = a
            p[1] = b
            p[2] = c
            p[3] = d
        }
    }
}

// Loads, stores and broadcasts of the SIMD widths come from ProductLanes; each width adds only its
// (de)interleave, which goes through the vector of twice its lanes.

extension SIMD8: TileLanes where Scalar == Float {
    @inline(__always) static func deinterleave4(_ p: UnsafePointer<Float>) -> (Self, Self, Self, Self) {
        let (a0, a1) = deinterleave(p)
        let (b0, b1) = deinterleave(p + 2 * scalarCount)
        let even = SIMD16<Float>(lowHalf: a0, highHalf: b0)
        let odd = SIMD16<Float>(lowHalf: a1, highHalf: b1)
        return (even.evenHalf, odd.evenHalf, even.oddHalf, odd.oddHalf)
    }
    @inline(__always) static func interleave4(
        _ a: Self, _ b: Self, _ c: Self, _ d: Self,
        to p: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        var even = SIMD16<Float>()
        var odd = SIMD16<Float>()
        even.evenHalf = a
        even.oddHalf = c
        odd.evenHalf = b
        odd.oddHalf = d
        interleave(even.lowHalf, odd.lowHalf, to: p, accumulate: accumulate)
        interleave(even.highHalf, odd.highHalf, to: p + 2 * scalarCount, accumulate: accumulate)
    }
    @inline(__always) static func deinterleave(_ p: UnsafePointer<Float>) -> (Self, Self) {
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
        return (v.evenHalf, v.oddHalf)
    }
    @inline(__always) static func interleave(
        _ even: Self, _ odd: Self, to p: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        var v = SIMD16<Float>()
        v.evenHalf = even
        v.oddHalf = odd
        if accumulate { v += UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }
}

extension SIMD4: TileLanes where Scalar == Float {
    @inline(__always) static func deinterleave4(_ p: UnsafePointer<Float>) -> (Self, Self, Self, Self) {
        let (a0, a1) = deinterleave(p)
        let (b0, b1) = deinterleave(p + 2 * scalarCount)
        let even = SIMD8<Float>(lowHalf: a0, highHalf: b0)
        let odd = SIMD8<Float>(lowHalf: a1, highHalf: b1)
        return (even.evenHalf, odd.evenHalf, even.oddHalf, odd.oddHalf)
    }
    @inline(__always) static func interleave4(
        _ a: Self, _ b: Self, _ c: Self, _ d: Self,
        to p: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        var even = SIMD8<Float>()
        var odd = SIMD8<Float>()
        even.evenHalf = a
        even.oddHalf = c
        odd.evenHalf = b
        odd.oddHalf = d
        interleave(even.lowHalf, odd.lowHalf, to: p, accumulate: accumulate)
        interleave(even.highHalf, odd.highHalf, to: p + 2 * scalarCount, accumulate: accumulate)
    }
    @inline(__always) static func deinterleave(_ p: UnsafePointer<Float>) -> (Self, Self) {
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        return (v.evenHalf, v.oddHalf)
    }
    @inline(__always) static func interleave(
        _ even: Self, _ odd: Self, to p: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        var v = SIMD8<Float>()
        v.evenHalf = even
        v.oddHalf = odd
        if accumulate { v += UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
