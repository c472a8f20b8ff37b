import BuildFeatures
import CPUFeatures
import Foundation

/// The vector instructions the kernels were compiled for, and whether this CPU has them.
public struct InstructionSet: Sendable, Equatable {
    public let features: UInt32

    /// What the kernels were built to use (`RESNET_DIST_TARGET_CPU`, `native` by default).
    public static let built = InstructionSet(features: rd_build_features())
    /// What this CPU offers. Tests may pretend to have fewer features:
    /// RESNET_DIST_TEST_CPU_FEATURES=avx2,fma (names as in `names`).
    public static let cpu: InstructionSet = {
        if let pretend = ProcessInfo.processInfo.environment["RESNET_DIST_TEST_CPU_FEATURES"] {
            return InstructionSet(names: pretend.split(separator: ",").map(String.init))
        }
        return InstructionSet(features: rd_cpu_features())
    }()

    public init(features: UInt32) { self.features = features }

    public init(names: [String]) {
        features = Self.names.filter { names.contains($0.1) }.reduce(0) { $0 | $1.0 }
    }
    /// The -target-cpu of the build.
    public static let targetCPU = String(cString: rd_build_target_cpu())

    private static func bit<T: BinaryInteger>(_ value: T) -> UInt32 { UInt32(value) }

    static let names: [(UInt32, String)] = [
        (bit(RD_FEATURE_AVX2), "avx2"), (bit(RD_FEATURE_FMA), "fma"),
        (bit(RD_FEATURE_AVX512F), "avx512f"), (bit(RD_FEATURE_AVX512BW), "avx512bw"),
        (bit(RD_FEATURE_AVX512VL), "avx512vl"), (bit(RD_FEATURE_AVX512DQ), "avx512dq"),
        (bit(RD_FEATURE_NEON), "neon"), (bit(RD_FEATURE_AVX), "avx"),
        (bit(RD_FEATURE_SSE42), "sse4.2"),
    ]

    public func has(_ name: String) -> Bool {
        Self.names.first { $0.1 == name }.map { features & $0.0 != 0 } ?? false
    }

    /// The widest float vector: 16 lanes (AVX-512), 8 (AVX2), 4 (SSE, NEON).
    public var vectorLanes: Int { has("avx512f") ? 16 : has("avx2") ? 8 : 4 }

    /// "AVX-512", "AVX2+FMA", "NEON", ...
    public var name: String {
        if has("avx512f") { return "AVX-512" }
        if has("avx2") { return has("fma") ? "AVX2+FMA" : "AVX2" }
        if has("neon") { return "NEON" }
        if has("avx") { return "AVX" }
        return "SSE2"
    }

    /// The features in `self` that `other` lacks, by name.
    public func missing(in other: InstructionSet) -> [String] {
        Self.names.filter { features & $0.0 != 0 && other.features & $0.0 == 0 }.map(\.1)
    }

    /// The lanes of the float vectors of the Winograd product kernels (the build's widest).
    public static var kernelLanes: Int { TileProduct.lanes }

    /// One line for `info` and `bench`.
    public static var summary: String {
        "built for \(built.name) (-target-cpu \(targetCPU), \(built.vectorLanes)-lane registers; Winograd products in \(kernelLanes) lanes, transforms in 8); this CPU: \(cpu.name)"
    }

    /// The same for JSON output.
    public static var fields: [String: Any] {
        [
            "isa": built.name, "target_cpu": targetCPU, "vector_lanes": built.vectorLanes,
            "kernel_lanes": kernelLanes, "cpu_isa": cpu.name,
        ]
    }

    /// nil when this CPU can run the kernels; else the one line that says why not and what to do.
    public static func unsupportedMessage() -> String? {
        let missing = built.missing(in: cpu)
        guard !missing.isEmpty else { return nil }
        return
            "this binary's kernels were built for \(built.name) (-target-cpu \(targetCPU)), but this CPU lacks \(missing.joined(separator: ", ")): rebuild on this kind of node, or for all nodes with RESNET_DIST_TARGET_CPU=x86-64-v3 swift build -c release"
    }
}
