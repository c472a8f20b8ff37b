import ArgumentParser
import Foundation
import Logging
import ResNet

/// `selftest` (also `train --test`): the whole training path on one machine in seconds, no
/// launcher, no data files. A ResNet-8 on a generated data set, 1 replica and 2 in-process
/// replicas, with checks that must hold on any correct install.
struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract:
            "A few seconds of training on generated data, 1 and 2 in-process replicas, with checks; no launcher, no data."
    )

    @Option(parsing: .unconditional, help: "Threads for the convolutions.")
    var threads = 1

    func validate() throws {
        try ThreadCount.validate(threads)
    }

    func run() throws {
        if !Self.run(threads: threads) { throw ExitCode.failure }
    }

    static func run(threads: Int) -> Bool {
        var logger = makeLogger()
        logger.logLevel = .warning
        let train = SyntheticData.make(count: 256, seed: 1)
        let test = SyntheticData.make(count: 128, seed: 2)
        let normalization = Normalization.perPixelMean(of: train)
        var passed = true
        func check(_ name: String, _ ok: Bool, _ detail: String) {
            print("\(ok ? "PASS" : "FAIL")  \(name): \(detail)")
            passed = passed && ok
        }
        do {
            let arch = try Architecture(family: .resnet, depth: 8)
            var config = TrainingConfiguration(
                architecture: arch, schedule: .init(base: 0.05, milestones: [], iterations: 24))
            config.globalBatch = 16
            config.threads = threads
            config.progress = false
            config.evalEvery = 24
            let t0 = monotonicSeconds()
            let one = try InProcessReplicas.run(
                replicas: 1, config: config, train: train, test: test,
                normalization: normalization, logger: logger)[0]
            let losses = one.result.losses
            let early = losses.prefix(4).reduce(0, +) / 4
            let late = losses.suffix(4).reduce(0, +) / 4
            check(
                "learns", late < early * 0.8 && losses.allSatisfy(\.isFinite),
                String(
                    format: "loss %.3f -> %.3f over %d steps, test accuracy %.1f%%", early, late, losses.count,
                    (one.result.testAccuracy ?? 0) * 100))

            let again = try InProcessReplicas.run(
                replicas: 1, config: config, train: train, test: test,
                normalization: normalization, logger: logger)[0]
            check(
                "repeatable",
                again.result.losses == losses && again.trainer.network.digest() == one.trainer.network.digest(),
                "same seed, same losses and weights bit for bit")

            // Equivalence over 10 steps at a small rate (rounding differences grow with every step).
            var small = config
            small.schedule = .init(base: 0.01, milestones: [], iterations: 10)
            small.evalEvery = 10
            let reference = try InProcessReplicas.run(
                replicas: 1, config: small, train: train, test: nil,
                normalization: normalization, logger: logger)[0]
            var sync = small
            sync.syncBatchNorm = true
            let two = try InProcessReplicas.run(
                replicas: 2, config: sync, train: train, test: nil,
                normalization: normalization, logger: logger)
            check(
                "replicas identical",
                two[0].result.replicasIdentical && two[0].trainer.network.digest() == two[1].trainer.network.digest(),
                "2 replicas hold the same bits after \(sync.schedule.iterations) steps")
            let difference = relativeDifference(reference.trainer.network, two[0].trainer.network)
            check(
                "2 replicas = 1 process", difference < 1e-4,
                String(format: "sync-BN, 2 x 8 images vs 1 x 16: max relative parameter difference %.2e", difference))
            print(String(format: "self-test took %.1f s", monotonicSeconds() - t0))
        } catch {
            check("runs", false, "\(error)")
        }
        print(passed ? "all checks passed" : "SOME CHECKS FAILED")
        return passed
    }

    /// max |a - b| / (max |a| + tiny) over the parameter vector.
    static func relativeDifference(_ a: Network, _ b: Network) -> Double {
        var diff: Float = 0
        var scale: Float = 0
        for (x, y) in zip(a.store.valueBuffer, b.store.valueBuffer) {
            diff = max(diff, abs(x - y))
            scale = max(scale, abs(x))
        }
        return Double(diff / max(scale, 1e-12))
    }
}
