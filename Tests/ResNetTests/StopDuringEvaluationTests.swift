import Distributed
import Foundation
import Testing

@testable import ResNet

/// A stop request that arrives while the trainer evaluates ends the pass between two batches
/// (mpirun kills its ranks a second after forwarding SIGTERM, and a pass over the test set takes
/// longer): a checkpoint of that iteration says the evaluation is still due, and the resumed run
/// evaluates first. Its metrics and its end are those of a run never stopped.
struct StopDuringEvaluationTests {
    let train = SyntheticData.make(count: 64, seed: 5)
    let test = SyntheticData.make(count: 64, seed: 6)

    func trainer(_ output: String, resume: Bool) throws -> Trainer {
        var config = smallConfig(batch: 16, iterations: 8)
        config.evalEvery = 4
        config.logEvery = 4
        config.outputDirectory = output
        config.resume = resume ? .auto : .none
        return try Trainer(
            config: config, communicator: SingleProcessCommunicator(), train: train, test: test,
            normalization: .perPixelMean(of: train), logger: quietLogger, quiet: true)
    }

    /// The (iteration, test error) lines of a run's metrics.jsonl, in file order.
    func evaluations(_ directory: String) throws -> [String] {
        try String(contentsOfFile: directory + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .filter { $0.contains("\"kind\":\"eval\"") }.map(String.init)
    }

    @Test func aStopDuringAnEvaluationCheckpointsAndTheResumedRunEvaluatesFirst() throws {
        let dir = temporaryDirectory()
        _ = try trainer(dir + "/straight", resume: false).run()

        // Asked after each of the 4 steps, then before each evaluation batch (4 of 16 images): the
        // request comes before the second batch.
        let stopped = try trainer(dir + "/stopped", resume: false)
        var asked = 0
        stopped.stopRequest = {
            asked += 1
            return asked >= 6 ? SIGTERM : 0
        }
        let result = try stopped.run()
        #expect(result.stoppedBySignal == SIGTERM && result.iterations == 4)
        let checkpoint = try Checkpoint.load(dir + "/stopped/checkpoint-00000004.safetensors")
        #expect(checkpoint.run?.evaluationPending == true)
        #expect(try evaluations(dir + "/stopped").isEmpty, "no evaluation line from a pass cut short")

        let resumed = try trainer(dir + "/stopped", resume: true).run()
        #expect(resumed.iterations == 8 && resumed.stoppedBySignal == nil)
        #expect(try evaluations(dir + "/stopped").count == 2)
        // The same test errors at 4 and 8 as the run never stopped, and the same final bits.
        #expect(try evaluations(dir + "/stopped") == evaluations(dir + "/straight"))
        let a = try tensorBytes(dir + "/straight/checkpoint-00000008.safetensors")
        let b = try tensorBytes(dir + "/stopped/checkpoint-00000008.safetensors")
        #expect(a.count > 30 && a == b)
        // A checkpoint written after its evaluation does not carry the key.
        #expect(try Checkpoint.load(dir + "/straight/checkpoint-00000004.safetensors").run?.evaluationPending == false)
    }
}
