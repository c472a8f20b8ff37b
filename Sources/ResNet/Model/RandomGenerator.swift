/// SplitMix64: a small, fast, seedable generator whose whole state is one UInt64, so it can be
/// stored in a checkpoint and derived from (seed, purpose, counters) without keeping state.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one purpose, e.g. `(seed, "init")` or `(seed, "epoch", 3)`.
    public init(seed: UInt64, stream: UInt64, _ counters: UInt64...) {
        var s = Self.mix(seed &+ 0x9E37_79B9_7F4A_7C15 &* (stream &+ 1))
        for c in counters { s = Self.mix(s ^ Self.mix(c &+ 0xD1B5_4A32_D192_ED03)) }
        state = s
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits (float32 resolution).
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Standard normal by Box-Muller.
    public mutating func nextNormal() -> Float {
        var u1 = Double(next() >> 11) * 0x1p-53
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}

/// Named random streams, so that adding one use of randomness never shifts another.
public enum RandomStream: UInt64 {
    case initialization = 1
    case epochOrder = 2
    case augmentation = 3
    case syntheticData = 4
}

#if canImport(Glibc)
import Glibc
#endif
