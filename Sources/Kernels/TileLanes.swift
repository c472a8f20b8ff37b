/// A run of adjacent Winograd tiles handled at once, in SIMD lanes or one at a time: the element
/// type of the tile transforms and the product kernels, so one generic body serves every width.
protocol TileLanes {
    static var zero: Self { get }
    init(_ p: UnsafePointer<Float>)
    init(broadcast: Float)
    func store(_ p: UnsafeMutablePointer<Float>)
    func addingProduct(_ a: Self, _ b: Self) -> Self
    /// The even- and odd-indexed floats of the run of twice the lanes at `p`.
    static func deinterleave(_ p: UnsafePointer<Float>) -> (Self, Self)
    /// Stores `even` and `odd` alternately at `p` (adds to what is there with `accumulate`).
    static func interleave(_ even: Self, _ odd: Self, to p: UnsafeMutablePointer<Float>, accumulate: Bool)
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static prefix func - (a: Self) -> Self
}

extension Float: TileLanes {
    @inline(__always) init(_ p: UnsafePointer<Float>) { self = p[0] }
    @inline(__always) init(broadcast x: Float) { self = x }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { p[0] = self }
    @inline(__always) static func deinterleave(_ p: UnsafePointer<Float>) -> (Float, Float) { (p[0], p[1]) }
    @inline(__always) static func interleave(_ even: Float, _ odd: Float, to p: UnsafeMutablePointer<Float>,
                                             accumulate: Bool) {
        if accumulate { p[0] += even; p[1] += odd } else { p[0] = even; p[1] = odd }
    }
}

/// Loads, stores and broadcasts for the SIMD widths; each width adds only its (de)interleave, which
/// goes through the vector of twice its lanes.
extension TileLanes where Self: SIMD, Self.Scalar == Float {
    @inline(__always) init(_ p: UnsafePointer<Float>) { self = UnsafeRawPointer(p).loadUnaligned(as: Self.self) }
    @inline(__always) init(broadcast x: Float) { self.init(repeating: x) }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self)
    }
}

extension SIMD8: TileLanes where Scalar == Float {
    @inline(__always) static func deinterleave(_ p: UnsafePointer<Float>) -> (Self, Self) {
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
        return (v.evenHalf, v.oddHalf)
    }
    @inline(__always) static func interleave(_ even: Self, _ odd: Self, to p: UnsafeMutablePointer<Float>,
                                             accumulate: Bool) {
        var v = SIMD16<Float>()
        v.evenHalf = even
        v.oddHalf = odd
        if accumulate { v += UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }
}

extension SIMD4: TileLanes where Scalar == Float {
    @inline(__always) static func deinterleave(_ p: UnsafePointer<Float>) -> (Self, Self) {
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        return (v.evenHalf, v.oddHalf)
    }
    @inline(__always) static func interleave(_ even: Self, _ odd: Self, to p: UnsafeMutablePointer<Float>,
                                             accumulate: Bool) {
        var v = SIMD8<Float>()
        v.evenHalf = even
        v.oddHalf = odd
        if accumulate { v += UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
