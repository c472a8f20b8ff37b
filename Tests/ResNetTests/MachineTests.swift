import Foundation
import Kernels
import Testing

/// What the binary says of the machine: the instruction set it was built for, a clear refusal on a
/// CPU without it, and the default thread count from the affinity mask.
struct MachineTests {
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessOutput {
        let exe = try #require(executablePath(), "resnet-dist not built")
        return try runProcess(exe, arguments, environment: environment, timeout: 120)
    }

    @Test func aCPUWithoutTheKernelsInstructionsGetsOneLine() throws {
        let built = InstructionSet.built
        // Pretend this CPU has only the baseline: whatever the build used beyond it is missing.
        let out = try run(["info", "--arch", "resnet20"], environment: ["RESNET_DIST_TEST_CPU_FEATURES": "sse4.2"])
        if built.missing(in: InstructionSet(names: ["sse4.2"])).isEmpty {
            #expect(out.status == 0)  // a baseline build runs anywhere
        } else {
            #expect(out.status == 65)
            #expect(out.stderr.hasPrefix("error: this binary's kernels were built for \(built.name)"))
            #expect(out.stderr.contains("RESNET_DIST_TARGET_CPU") && out.stderr.split(separator: "\n").count == 1)
        }
        let real = try run(["info", "--arch", "resnet20", "--json"])
        let fields = try JSONSerialization.jsonObject(with: Data(real.stdout.utf8)) as! [String: Any]
        #expect(fields["isa"] as? String == built.name && fields["kernel_lanes"] as? Int == InstructionSet.kernelLanes)
    }

    @Test func missingFeaturesAreNamed() {
        let avx512 = InstructionSet(names: ["sse4.2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl"])
        let avx2 = InstructionSet(names: ["sse4.2", "avx", "avx2", "fma"])
        #expect(avx512.missing(in: avx2) == ["avx512f", "avx512bw", "avx512vl"])
        #expect(avx2.missing(in: avx512).isEmpty && avx512.vectorLanes == 16 && avx2.vectorLanes == 8)
        #expect(avx512.name == "AVX-512" && avx2.name == "AVX2+FMA" && InstructionSet(names: ["neon"]).vectorLanes == 4)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset"), "no taskset"))
    func threadsDefaultToTheAffinityMask() throws {
        let exe = try #require(executablePath(), "resnet-dist not built")
        let one = try runProcess(
            "/usr/bin/taskset",
            ["-c", "0", exe, "train", "--arch", "resnet8", "--data", "generated", "--iterations", "1"])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stderr.contains("x 1 thread (default: the 1 core in this rank's affinity mask)"))
        let given = try run([
            "train", "--arch", "resnet8", "--data", "generated", "--iterations", "1", "--threads", "1",
        ])
        #expect(given.stderr.contains("x 1 thread (--threads 1)"))
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let all = try run(["train", "--arch", "resnet8", "--data", "generated", "--iterations", "1"])
        #expect(all.stderr.contains("x \(cores) thread"), "\(all.stderr)")

        // Under srun without binding every task sees the whole node: SLURM_CPUS_PER_TASK says its share
        // (issue 21: 2 tasks on a 2-core node each took 2 threads). A mask narrower than the node wins.
        let slurm = try run(
            ["train", "--arch", "resnet8", "--data", "generated", "--iterations", "1"],
            environment: ["SLURM_CPUS_PER_TASK": "1"])
        #expect(slurm.status == 0, "\(slurm.stderr)")
        #expect(
            slurm.stderr.contains("x 1 thread (default: SLURM_CPUS_PER_TASK=1, this task not bound to cores)"),
            "\(slurm.stderr)")
        if cores >= 2 {
            let bound = try runProcess(
                "/usr/bin/taskset",
                ["-c", "0", exe, "train", "--arch", "resnet8", "--data", "generated", "--iterations", "1"],
                environment: ["SLURM_CPUS_PER_TASK": "2"])
            #expect(bound.stderr.contains("x 1 thread (default: the 1 core in this rank's affinity mask)"), "\(bound.stderr)")
        }
    }

    /// The pool's workers spin for the next region only when the node has a core for every thread
    /// of its ranks; `RESNET_DIST_SPIN_US` overrides (issue 20).
    @Test func workersSpinOnlyOnCoresOfTheirOwn() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard cores >= 2 else { return }
        let train = ["train", "--arch", "resnet8", "--data", "generated", "--iterations", "1", "--threads", "2"]
        let own = try run(train)
        #expect(own.status == 0, "\(own.stderr)")
        #expect(own.stderr.contains("x 2 threads (--threads 2; workers spin 100 us for the next region)"), "\(own.stderr)")
        // As mpirun tells a rank that shares its (unbound) mask with as many others as there are cores.
        let shared = try run(train, environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "\(cores)"])
        #expect(shared.status == 0, "\(shared.stderr)")
        #expect(shared.stderr.contains("(--threads 2; workers sleep between regions: cores shared with other ranks)"), "\(shared.stderr)")
        let told = try run(train, environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "\(cores)", "RESNET_DIST_SPIN_US": "7"])
        #expect(told.stderr.contains("(--threads 2; workers spin 7 us for the next region)"), "\(told.stderr)")
        let never = try run(train, environment: ["RESNET_DIST_SPIN_US": "0"])
        #expect(never.stderr.contains("(--threads 2; workers sleep between regions)"), "\(never.stderr)")
    }
}
