import Distributed
import Foundation
import Kernels
import ResNet

/// Splits the wait after backward, step by step, without comparing clocks across ranks. The rank
/// that finishes backward last waits only for the buckets still in flight: the smallest wait of a
/// step is its exposed communication. What the other ranks wait beyond that is the time they spend
/// idle until the slowest rank catches up (imbalance), which no all-reduce schedule can hide.
struct WaitSplit {
    /// Medians over steps, seconds.
    let communication: Double, imbalance: Double

    init(_ waits: [Double], communicator: Communicator) throws {
        let world = communicator.size
        let steps = waits.count
        var all = [Double](repeating: 0, count: world * steps)
        for (step, wait) in waits.enumerated() { all[step * world + communicator.rank] = wait }
        try all.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        let perStep = (0..<steps).map { all[($0 * world)..<(($0 + 1) * world)] }
        communication = median(perStep.map { $0.min()! })
        imbalance = median(perStep.map { $0.max()! - $0.min()! })
    }
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Peak resident set size of this process (VmHWM), bytes.
func peakResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}

/// Single-thread sgemm rate on a 1024^3 product, best of 3.
func measureSgemmGFLOPS() -> Double {
    let n = 1024
    let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    let b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    defer {
        a.deallocate()
        b.deallocate()
        c.deallocate()
    }
    a.initialize(repeating: 0.5, count: n * n)
    b.initialize(repeating: 0.25, count: n * n)
    c.initialize(repeating: 0, count: n * n)
    var best = Double.infinity
    for _ in 0..<3 {
        let t0 = monotonicSeconds()
        sgemm(transposeA: false, transposeB: false, m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, beta: 0, c: c, ldc: n)
        best = min(best, monotonicSeconds() - t0)
    }
    return 2 * Double(n * n * n) / best / 1e9
}
