@testable import Kernels
import Testing

/// The Winograd weight transforms run eight planes at a time and read backward-data's flipped,
/// transposed kernels in place. Both must give exactly what transforming each plane alone, from a
/// flipped copy, gives: the one-plane definition is written out here.
struct KernelLanesTests {
    /// One plane of F(2x2)'s `G g G^T`, scalar, as the transform did before it took eight lanes.
    static func planeF2(_ w: [Float]) -> [Float] {
        var t = [[Float]](repeating: [0, 0, 0], count: 4)
        for j in 0..<3 {
            let (g0, g1, g2) = (w[j], w[3 + j], w[6 + j])
            t[0][j] = g0
            t[1][j] = (g0 + g1 + g2) * 0.5
            t[2][j] = (g0 - g1 + g2) * 0.5
            t[3][j] = g2
        }
        var u = [Float](repeating: 0, count: 16)
        for i in 0..<4 {
            u[i * 4 + 0] = t[i][0]
            u[i * 4 + 1] = (t[i][0] + t[i][1] + t[i][2]) * 0.5
            u[i * 4 + 2] = (t[i][0] - t[i][1] + t[i][2]) * 0.5
            u[i * 4 + 3] = t[i][2]
        }
        return u
    }

    /// One plane of F(4x4)'s `G g G^T`, scalar.
    static func planeF4(_ w: [Float]) -> [Float] {
        func apply(_ g0: Float, _ g1: Float, _ g2: Float) -> [Float] {
            let outer = g0 + g2
            return [g0 / 4, -(outer + g1) / 6, -(outer - g1) / 6, g0 / 24 + g1 / 12 + g2 / 6, g0 / 24 - g1 / 12 + g2 / 6, g2]
        }
        let columns = (0..<3).map { apply(w[$0], w[3 + $0], w[6 + $0]) }
        var u = [Float](repeating: 0, count: 36)
        for a in 0..<6 {
            let r = apply(columns[0][a], columns[1][a], columns[2][a])
            for b in 0..<6 { u[a * 6 + b] = r[b] }
        }
        return u
    }

    /// Kernel (o, i) of weights [Cout][Cin][3][3], turned by 180 degrees when `flipped`.
    static func kernel(_ w: [Float], _ o: Int, _ i: Int, cin: Int, flipped: Bool) -> [Float] {
        let k = Array(w[(o * cin + i) * 9..<(o * cin + i + 1) * 9])
        return flipped ? k.reversed() : k
    }

    @Test("eight planes at a time, direct and flipped-transposed, equal one plane at a time bit for bit",
          arguments: [(1, 1), (3, 5), (4, 2), (8, 8), (12, 10), (16, 3), (7, 9)])
    func transformsMatchOnePlaneAtATime(_ cout: Int, _ cin: Int) {
        let w = randomValues(cout * cin * 9, seed: UInt64(cout * 100 + cin))
        let planes = cout * cin
        for fourByFour in [false, true] {
            let positions = fourByFour ? 36 : 16
            let one = fourByFour ? Self.planeF4 : Self.planeF2
            for layout in [KernelLayout.direct, .flippedTransposed(outChannels: cout, inChannels: cin)] {
                // Direct: plane o * Cin + i is kernel (o, i). Transposed: plane i * Cout + o is kernel (o, i), flipped.
                let (rows, columns) = layout == .direct ? (cout, cin) : (cin, cout)
                var u = [Float](repeating: .nan, count: positions * planes)
                // Also in two uneven runs of planes, as two threads would take them.
                for run in [0..<planes / 3, planes / 3..<planes] {
                    u.withUnsafeMutableBufferPointer { up in
                        w.withUnsafeBufferPointer { wp in
                            if fourByFour {
                                Winograd4.transformWeights(
                                    wp.baseAddress!, outChannels: rows, inChannels: columns, into: up.baseAddress!,
                                    planes: run, layout: layout)
                            } else {
                                Winograd.transformWeights(
                                    wp.baseAddress!, outChannels: rows, inChannels: columns, into: up.baseAddress!,
                                    planes: run, layout: layout)
                            }
                        }
                    }
                }
                var mismatches = 0
                for r in 0..<rows {
                    for c in 0..<columns {
                        let k = layout == .direct
                            ? Self.kernel(w, r, c, cin: cin, flipped: false)
                            : Self.kernel(w, c, r, cin: cin, flipped: true)
                        let expected = one(k)
                        for xi in 0..<positions where u[xi * planes + r * columns + c].bitPattern != expected[xi].bitPattern {
                            mismatches += 1
                        }
                    }
                }
                #expect(mismatches == 0, "\(cout)x\(cin), F(\(fourByFour ? 4 : 2)), \(layout): \(mismatches) values differ")
            }
        }
    }

    @Test("the weight gradient's G^T dU G, eight planes at a time, equals one plane at a time bit for bit",
          arguments: [(3, 5), (8, 8), (12, 10)])
    func gradientTransformMatchesOnePlaneAtATime(_ cout: Int, _ cin: Int) {
        let planes = cout * cin
        let du = randomValues(16 * planes, seed: 7)
        var dg = [Float](repeating: .nan, count: planes * 9)
        for run in [0..<planes / 2, planes / 2..<planes] {
            du.withUnsafeBufferPointer { dp in
                Winograd.transformWeightGradient(
                    dp.baseAddress!, outChannels: cout, inChannels: cin, into: &dg, planes: run)
            }
        }
        var mismatches = 0
        for p in 0..<planes {
            // s = G^T du (3x4), then dg = s G, one plane, scalar.
            var s = [[Float]](repeating: [0, 0, 0, 0], count: 3)
            for j in 0..<4 {
                let (d0, d1, d2, d3) = (du[j * planes + p], du[(4 + j) * planes + p], du[(8 + j) * planes + p], du[(12 + j) * planes + p])
                s[0][j] = d0 + (d1 + d2) * 0.5
                s[1][j] = (d1 - d2) * 0.5
                s[2][j] = (d1 + d2) * 0.5 + d3
            }
            for i in 0..<3 {
                let r = s[i]
                let expected = [r[0] + (r[1] + r[2]) * 0.5, (r[1] - r[2]) * 0.5, (r[1] + r[2]) * 0.5 + r[3]]
                for j in 0..<3 where dg[p * 9 + i * 3 + j].bitPattern != expected[j].bitPattern { mismatches += 1 }
            }
        }
        #expect(mismatches == 0, "\(cout)x\(cin): \(mismatches) values differ")
    }
}
