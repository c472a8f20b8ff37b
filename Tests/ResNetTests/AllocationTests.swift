import Foundation
import Testing

/// A steady-state training step allocates nothing: counted by malloc-interposer, preloaded into
/// the `step-allocations` probe (not a timing test).
struct AllocationTests {
    /// At 2 threads every parallel region hands its chunks to the pool's workers (a heap box each,
    /// 180 a ResNet-20 step, when a region was a capturing closure); batch 1 at 2 threads takes the
    /// small-shard splits (tile rows, channels). The workers spin for the next region, as the
    /// command line lets them when the threads have cores of their own.
    @Test(
        "steady-state steps allocate nothing",
        arguments: [
            ("resnet20", 8, 1), ("plain20", 8, 1), ("resnet18", 2, 1), ("resnet20", 8, 2), ("resnet20", 1, 2),
            ("resnet18", 2, 2),
        ])
    func stepsDoNotAllocate(arch: String, batch: Int, threads: Int) throws {
        let exe = try #require(executablePath()).replacingOccurrences(of: "/resnet-dist", with: "/step-allocations")
        let library = (exe as NSString).deletingLastPathComponent + "/libMallocInterposerSwift.so"
        try #require(FileManager.default.fileExists(atPath: library), "\(library) not built")
        let out = try runProcess(
            exe, [arch, "\(batch)", "3", "--threads", "\(threads)"], environment: ["LD_PRELOAD": library, "RESNET_DIST_SPIN_US": "100"], timeout: 300)
        #expect(out.status == 0, "\(out.stderr.suffix(2000))")
        let result = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as! [String: Any]
        #expect(result["interposer_active"] as? Bool == true, "the interposer must count a deliberate allocation")
        #expect(result["allocations"] as? Int == 0, "\(arch), batch \(batch), \(threads) threads: \(result)")
    }
}
