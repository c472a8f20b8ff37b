// The checkpoint reader under a fuzzer: every input is a would-be checkpoint file, read as
// `train --resume` reads one (safetensors header and data, checksum, metadata record, the
// resume checks against a ResNet-8 run, the stored normalisation, every tensor into a network).
// Any input must end in a value or a thrown error; a trap or crash is a finding.
//
// libFuzzer build (coverage-guided): bench/fuzz-checkpoint.sh. The plain build replays files:
//   .build/release/checkpoint-fuzz Tests/Fuzz/checkpoint-corpus/*
import Foundation
import ResNet

enum CheckpointFuzz {
    static let architecture = try! Architecture.parse("resnet8")
    static let network = Network(architecture, batchCapacity: 1)
    static let config: TrainingConfiguration = {
        var c = TrainingConfiguration(
            architecture: architecture,
            schedule: .init(base: 0.1, milestones: [], iterations: 12))
        c.globalBatch = 16
        return c
    }()

    /// Reads `bytes` as a checkpoint; true when it was accepted as a whole.
    @discardableResult
    static func read(_ bytes: Data) -> Bool {
        do {
            let loaded = try Checkpoint.load(SafeTensorsFile(bytes: bytes, path: "input"), expected: architecture)
            _ = try loaded.normalization()
            if loaded.run != nil { _ = try TrainingState(resuming: loaded, config: config) }
            try loaded.apply(to: network, optimizer: loaded.run != nil)
            return true
        } catch {
            return false
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    CheckpointFuzz.read(Data(bytes: data, count: size))
    return 0
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@main
struct Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv, fuzzOneInput))
    }
}
#else
@main
struct Replay {
    static func main() {
        var accepted = 0
        let files = CommandLine.arguments.dropFirst()
        for path in files {
            guard let bytes = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("error: \(path): cannot read\n".utf8))
                exit(1)
            }
            if CheckpointFuzz.read(bytes) { accepted += 1 }
        }
        print("{\"inputs\":\(files.count),\"accepted\":\(accepted)}")
    }
}
#endif
