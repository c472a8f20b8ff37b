import Distributed
import Foundation
import Testing

@testable import ResNet

/// `--allreduce-precision bf16`: gradient buckets travel as bfloat16 and are summed pair by pair
/// in float32, rounded once (issue 21).
struct CompressedGradientTests {
    @Test func bfloat16RoundsToNearestEven() {
        let one: Float = 1
        #expect(BFloat16.bits(one) == 0x3F80 && BFloat16.float(0x3F80) == 1)
        #expect(BFloat16.bits(one + 0x1p-8) == 0x3F80, "a tie goes to the even neighbour (down)")
        #expect(BFloat16.bits(one + 3 * 0x1p-8) == 0x3F82, "a tie goes to the even neighbour (up)")
        #expect(BFloat16.bits(one + 0x1p-8 + 0x1p-20) == 0x3F81, "above the tie: up")
        #expect(BFloat16.float(0x3F81) == one + 0x1p-7)
        #expect(BFloat16.bits(-0.0) == 0x8000 && BFloat16.bits(.infinity) == 0x7F80)
        #expect(BFloat16.bits(.greatestFiniteMagnitude) == 0x7F80, "rounds up to infinity, as float16 casts do")
        #expect(BFloat16.float(BFloat16.bits(.nan)).isNaN)
        // Every bfloat16 survives the round trip.
        #expect((0..<0x7F80).allSatisfy { BFloat16.bits(BFloat16.float(UInt16($0))) == UInt16($0) })
    }

    /// Two in-process ranks: the replicas stay identical, the run is close to the float32 one (bfloat16
    /// keeps 8 bits), and it is not the float32 run (the compression really happens).
    @Test func twoRanksTrainCloseToFloat32AndStayIdentical() throws {
        let data = SyntheticData.make(count: 256, seed: 4)
        func run(bfloat16: Bool) throws -> [(trainer: Trainer, result: TrainingResult)] {
            var config = smallConfig(depth: 8, batch: 16, iterations: 5, lr: 0.02)
            config.bfloat16Gradients = bfloat16
            return try InProcessReplicas.run(
                replicas: 2, config: config, train: data, test: nil, normalization: .perPixelMean(of: data),
                logger: quietLogger)
        }
        let compressed = try run(bfloat16: true)
        let full = try run(bfloat16: false)
        #expect(compressed[0].result.replicasIdentical)
        #expect(compressed[0].trainer.network.digest() == compressed[1].trainer.network.digest())
        let a = compressed[0].result.losses, b = full[0].result.losses
        #expect(a[0] == b[0], "the first forward pass precedes any exchange")
        #expect(zip(a, b).allSatisfy { abs($0 - $1) / $1 < 0.02 }, "\(a) against \(b)")
        #expect(compressed[0].trainer.network.digest() != full[0].trainer.network.digest())
    }

    /// Under mpirun the sums go through the shim's MPI_Op (the C twin of `BFloat16.sum`): three
    /// ranks (a world size that does not divide the batch) stay bit-identical.
    @Test func threeRanksUnderMpirunStayIdentical() throws {
        try #require(mpirunAvailable, "mpirun not found (apt-get install openmpi-bin)")
        let args = [
            "train", "--arch", "resnet8", "--data", "generated", "--batch-size", "16", "--iterations", "6", "--json",
        ]
        let compressed = try mpirun(3, args + ["--allreduce-precision", "bf16"])
        let full = try mpirun(3, args)
        #expect(compressed.status == 0 && full.status == 0, "\(compressed.stderr.suffix(1500))")
        func result(_ out: ProcessOutput) throws -> [String: Any] {
            let line = try #require(out.stdout.split(separator: "\n").last { $0.hasPrefix("{") })
            return try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        }
        let c = try result(compressed), f = try result(full)
        #expect(c["replicas_identical"] as? Bool == true)
        let lc = c["first_losses"] as! [Double], lf = f["first_losses"] as! [Double]
        #expect(lc[0] == lf[0] && zip(lc, lf).allSatisfy { abs($0 - $1) / $1 < 0.02 }, "\(lc) against \(lf)")
        #expect(lc != lf)
    }
}
