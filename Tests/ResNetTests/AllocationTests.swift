import Foundation
import Testing

/// A steady-state training step allocates nothing: counted by malloc-interposer, preloaded into
/// the `step-allocations` probe (not a timing test).
struct AllocationTests {
    @Test("steady-state steps allocate nothing", arguments: ["resnet20", "plain20", "resnet18"])
    func stepsDoNotAllocate(arch: String) throws {
        let exe = try #require(executablePath()).replacingOccurrences(of: "/resnet-dist", with: "/step-allocations")
        let library = (exe as NSString).deletingLastPathComponent + "/libMallocInterposerSwift.so"
        try #require(FileManager.default.fileExists(atPath: library), "\(library) not built")
        let out = try runProcess(
            exe, [arch, arch == "resnet18" ? "2" : "8", "3"], environment: ["LD_PRELOAD": library], timeout: 300)
        #expect(out.status == 0, "\(out.stderr.suffix(2000))")
        let result = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as! [String: Any]
        #expect(result["interposer_active"] as? Bool == true, "the interposer must count a deliberate allocation")
        #expect(result["allocations"] as? Int == 0, "\(arch): \(result)")
    }
}
