/// Reductions over contiguous float32 runs with 16 lanes, so they vectorise (a plain `s += x[i]`
/// loop cannot: float addition is not associative, and the compiler keeps its order). The lane
/// order is fixed, so results are deterministic.
public enum Vector {
    public typealias Lanes = SIMD16<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
    }

    @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
    }

    /// `sum(x)`.
    @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = Lanes(repeating: 0)
        var i = 0
        while i + 16 <= count {
            acc += load(x + i)
            i += 16
        }
        var s = acc.sum()
        while i < count {
            s += x[i]
            i += 1
        }
        return s
    }

    /// `(sum(x), sum(x^2))`.
    @inline(__always)
    public static func sumAndSquares(_ x: UnsafePointer<Float>, _ count: Int) -> (Float, Float) {
        var a = Lanes(repeating: 0)
        var b = Lanes(repeating: 0)
        var i = 0
        while i + 16 <= count {
            let v = load(x + i)
            a += v
            b += v * v
            i += 16
        }
        var s = a.sum()
        var q = b.sum()
        while i < count {
            s += x[i]
            q += x[i] * x[i]
            i += 1
        }
        return (s, q)
    }

    /// `(sum(g), sum(g * x))` where `g = dy` masked to 0 where `mask <= 0` when a mask is given.
    @inline(__always)
    public static func gradientSums(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
        mask: UnsafePointer<Float>?, _ count: Int
    ) -> (Float, Float) {
        var a = Lanes(repeating: 0)
        var b = Lanes(repeating: 0)
        var i = 0
        let zero = Lanes(repeating: 0)
        if let mask {
            while i + 16 <= count {
                let g = load(dy + i).replacing(with: zero, where: load(mask + i) .<= zero)
                a += g
                b += g * load(x + i)
                i += 16
            }
        } else {
            while i + 16 <= count {
                let g = load(dy + i)
                a += g
                b += g * load(x + i)
                i += 16
            }
        }
        var s = a.sum()
        var q = b.sum()
        while i < count {
            let g = (mask.map { $0[i] > 0 } ?? true) ? dy[i] : 0
            s += g
            q += g * x[i]
            i += 1
        }
        return (s, q)
    }
}
