import Foundation
import Testing

/// `bench --by-layer`: every convolution of the network counted once under its shape, with the
/// kernel its forward pass uses.
struct BenchTests {
    func layers(_ arguments: [String]) throws -> [String: Int] {
        let exe = try #require(executablePath(), "resnet-dist not built")
        let out = try runProcess(
            exe, ["bench", "--steps", "1", "--warmup-steps", "0", "--threads", "1", "--by-layer", "--json"] + arguments,
            environment: ["OPENBLAS_NUM_THREADS": "1"], timeout: 300)
        #expect(out.status == 0, "\(out.stderr.suffix(2000))")
        let line = try #require(out.stdout.split(separator: "\n").last { $0.hasPrefix("{") })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let entries = try #require(json["layers"] as? [[String: Any]])
        for entry in entries {
            let seconds = try #require(entry["seconds_per_step"] as? Double)
            let passes = ["conv forward", "conv backward-data", "conv backward-weights"].map { entry[$0] as? Double ?? -1 }
            #expect(passes.allSatisfy { $0 >= 0 } && abs(passes.reduce(0, +) - seconds) <= 1e-9 * max(seconds, 1))
        }
        return Dictionary(uniqueKeysWithValues: entries.map { ($0["shape"] as! String, $0["layers"] as! Int) })
    }

    @Test func resnet20LayersByShape() throws {
        #expect(
            try layers(["--arch", "resnet20", "--batch-size", "2"]) == [
                "3x3/1 3->16 32x32 F(4x4)": 1, "3x3/1 16->16 32x32 F(4x4)": 6, "3x3/2 16->32 32x32 im2col": 1,
                "3x3/1 32->32 16x16 F(4x4)": 5, "3x3/2 32->64 16x16 im2col": 1, "3x3/1 64->64 8x8 F(2x2)": 5,
            ])
    }

    /// ResNet-18's last stage works on 7x7 planes: Winograd on the plane grown to 8x8.
    @Test func resnet18LayersByShape() throws {
        #expect(
            try layers(["--arch", "resnet18", "--batch-size", "1"]) == [
                "7x7/2 3->64 224x224 im2col": 1, "3x3/1 64->64 56x56 F(4x4)": 4,
                "3x3/2 64->128 56x56 im2col": 1, "3x3/1 128->128 28x28 F(4x4)": 3, "1x1/2 64->128 56x56 im2col": 1,
                "3x3/2 128->256 28x28 im2col": 1, "3x3/1 256->256 14x14 F(2x2)": 3, "1x1/2 128->256 28x28 im2col": 1,
                "3x3/2 256->512 14x14 im2col": 1, "3x3/1 512->512 7x7 F(2x2) on 8x8": 3,
                "1x1/2 256->512 14x14 im2col": 1,
            ])
    }

    /// `RESNET_DIST_POOL_STATS=1 bench`: the thread pool's regions, counted per step, each with at
    /// least two chunks; without the variable, nothing is counted.
    @Test func poolStatisticsCountTheRegions() throws {
        let exe = try #require(executablePath(), "resnet-dist not built")
        func pool(_ environment: [String: String]) throws -> [String: Any] {
            let out = try runProcess(
                exe,
                ["bench", "--arch", "resnet8", "--batch-size", "4", "--threads", "2", "--steps", "2", "--warmup-steps", "1", "--json"],
                environment: environment.merging(["OPENBLAS_NUM_THREADS": "1"]) { a, _ in a }, timeout: 300)
            #expect(out.status == 0, "\(out.stderr.suffix(2000))")
            let line = try #require(out.stdout.split(separator: "\n").last { $0.hasPrefix("{") })
            let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(json["pool"] as? [String: Any])
        }
        #expect(try pool([:]).isEmpty)
        let counted = try pool(["RESNET_DIST_POOL_STATS": "1"])
        let regions = try #require(counted["regions_per_step"] as? Double)
        let chunks = try #require(counted["chunks_per_step"] as? Double)
        let share = try #require(counted["worker_chunk_share"] as? Double)
        let byRegion = try #require(counted["by_region"] as? [[String: Any]])
        #expect(regions > 50 && regions == regions.rounded(), "the same regions every step: \(regions)")
        #expect(chunks >= 2 * regions && share >= 0 && share <= 1)
        #expect(byRegion.map { $0["regions_per_step"] as? Double ?? 0 }.reduce(0, +) == regions)
        #expect(byRegion.contains { ($0["region"] as? String) == "WinogradForwardByImages" })
    }
}
