// swift-tools-version:6.0
import PackageDescription
import Foundation

// The kernels are built for the CPU of the build host (`native`), as HPC codes and llama.cpp are:
// AVX-512 where it has it, AVX2 and FMA otherwise (for the baseline x86-64 target the compiler
// would emit SSE2 only and turn every fused multiply-add into a call to fmaf). When the nodes differ
// from the build host, name their CPU: RESNET_DIST_TARGET_CPU=<llvm cpu name>, e.g. x86-64-v3
// (AVX2+FMA: any Intel since Haswell, AMD since Zen), x86-64-v4 (AVX-512), znver4, skylake-avx512.
// The binary checks at start-up that the CPU has what it was built for.
#if arch(x86_64)
let targetCPU = ProcessInfo.processInfo.environment["RESNET_DIST_TARGET_CPU"] ?? "native"
let optimized: [SwiftSetting] = [.unsafeFlags(["-target-cpu", targetCPU])]
let optimizedC: [CSetting] = [.unsafeFlags(["-march=\(targetCPU)"]), .define("RD_TARGET_CPU", to: "\"\(targetCPU)\"")]
#else
let optimized: [SwiftSetting] = []
let optimizedC: [CSetting] = [.define("RD_TARGET_CPU", to: "\"default\"")]
#endif

let package = Package(
    name: "resnet-dist",
    products: [
        .executable(name: "resnet-dist", targets: ["resnet-dist"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "ResNet", targets: ["ResNet"]),
        .library(name: "Distributed", targets: ["Distributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/ordo-one/malloc-interposer", from: "1.6.1"),
    ],
    targets: [
        // Only the BLAS import: OpenBLAS's CBLAS interface from Debian's libopenblas-dev.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // Only the MPI headers and library: OpenMPI from Debian's libopenmpi-dev.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        // The C shim over MPI: Swift cannot use mpi.h's handle macros directly.
        .target(name: "MPIShim", dependencies: ["CMPI"]),
        // JPEG (libjpeg-turbo, Debian's libjpeg-dev) and PNG (libpng) decoding for image folders:
        // C, because libjpeg reports errors by longjmp.
        .target(name: "ImageCodec", linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
        // What this CPU has (built for the baseline, so it runs anywhere) and what the kernels were
        // built to use (built with the kernels' -march; macros only, no vector code).
        .target(name: "CPUFeatures"),
        .target(name: "BuildFeatures", dependencies: ["CPUFeatures"], cSettings: optimizedC),
        // Numerical kernels (float32, NCHW), knowing nothing of models.
        .target(name: "Kernels", dependencies: ["COpenBLAS", "CPUFeatures", "BuildFeatures"], swiftSettings: optimized),
        // Communicators: single process and MPI.
        .target(name: "Distributed", dependencies: ["MPIShim"]),
        // Models, data, optimizer, schedule, checkpoints, the training loop.
        .target(name: "ResNet", dependencies: [
            "Kernels", "Distributed", "ImageCodec",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: optimized),
        .executableTarget(name: "resnet-dist", dependencies: [
            "ResNet", "Kernels", "Distributed", "CPUFeatures",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Counts the heap allocations of training steps (run with the interposer preloaded).
        .executableTarget(name: "step-allocations", dependencies: [
            "ResNet", "Distributed", "Kernels",
            .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
        ]),
        // The checkpoint reader as a libFuzzer target (bench/fuzz-checkpoint.sh builds it with
        // -sanitize=fuzzer -DFUZZING); the plain build replays corpus files through the reader.
        .executableTarget(name: "checkpoint-fuzz", dependencies: ["ResNet"],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "ResNetTests", dependencies: ["ResNet", "Kernels", "Distributed"]),
    ],
    // Kernels hand raw buffers to worker threads; Swift 5 mode keeps that explicit without
    // Sendable wrappers around every pointer.
    swiftLanguageModes: [.v5]
)
