import Foundation
import Testing

@testable import ResNet

/// LARS (You, Gitman and Ginsburg 2017) and the decays that go with it (issue 21).
struct LARSTests {
    /// A weight tensor and a bias, by hand: the weight's rate is lr x η ||w|| / (||g|| + wd ||w||),
    /// taken into the momentum with its weight decay; the bias keeps lr and gets no weight decay.
    @Test func oneStepByHand() {
        let store = ParameterStore()
        let weight = store.addParameter("fc.weight", shape: [2, 2])
        let bias = store.addParameter("fc.bias", shape: [2])
        store.allocate()
        let w: [Float] = [3, 4, 0, 0], g: [Float] = [0, 0, 6, 8]  // ||w|| = 5, ||g|| = 10
        for i in 0..<4 {
            store.values[weight + i] = w[i]
            store.gradients[weight + i] = g[i]
            store.momentum[weight + i] = 0.5
        }
        for i in 0..<2 {
            store.values[bias + i] = 1
            store.gradients[bias + i] = 0.25
            store.momentum[bias + i] = 0.5
        }
        let (lr, eta, wd, m): (Float, Float, Float, Float) = (2, 0.001, 1e-4, 0.9)
        SGD(momentum: m, weightDecay: wd, trustCoefficient: eta).step(store, learningRate: lr)

        let trust = 0.001 * 5 / (10 + 1e-4 * 5)  // 4.99975e-4
        for i in 0..<4 {
            let v = 0.9 * 0.5 + 2 * trust * (Double(g[i]) + 1e-4 * Double(w[i]))
            #expect(abs(Double(store.momentum[weight + i]) - v) < 1e-6, "momentum \(i)")
            #expect(abs(Double(store.values[weight + i]) - (Double(w[i]) - v)) < 1e-6, "weight \(i)")
        }
        for i in 0..<2 {
            let v = 0.9 * 0.5 + 2 * 0.25  // the plain rate, no weight decay
            #expect(abs(Double(store.momentum[bias + i]) - v) < 1e-6)
            #expect(abs(Double(store.values[bias + i]) - (1 - v)) < 1e-6)
        }
    }

    @Test func aZeroNormKeepsThePlainRate() {
        var zeros = [Float](repeating: 0, count: 4)
        let ones = [Float](repeating: 1, count: 4)
        #expect(SGD.trustRatio(weights: &zeros, gradients: ones, count: 4, trust: 0.001, weightDecay: 1e-4) == 1)
        #expect(SGD.trustRatio(weights: ones, gradients: &zeros, count: 4, trust: 0.001, weightDecay: 1e-4) == 1)
    }

    @Test func polynomialAndCosineDecayAfterTheRamp() {
        let poly = LearningRateSchedule(
            base: 4, milestones: [], iterations: 110, ramp: .init(start: 0.1, iterations: 10), decay: .polynomial)
        let cosine = LearningRateSchedule(base: 4, milestones: [], iterations: 100, decay: .cosine)
        #expect(poly.learningRate(iteration: 0, warmupDone: true) == 0.1)
        #expect(poly.learningRate(iteration: 10, warmupDone: true) == 4)
        #expect(abs(poly.learningRate(iteration: 60, warmupDone: true) - 1) < 1e-12)  // 4 x (1/2)^2
        #expect(poly.learningRate(iteration: 110, warmupDone: true) == 0)
        #expect(abs(cosine.learningRate(iteration: 50, warmupDone: true) - 2) < 1e-12)
        #expect(abs(cosine.learningRate(iteration: 100, warmupDone: true)) < 1e-12)
        // Stored and read back; the plain schedules' JSON has no decay key (old checkpoints read alike).
        let data = try! JSONEncoder().encode(poly)
        #expect(try! JSONDecoder().decode(LearningRateSchedule.self, from: data) == poly)
        let plain = String(decoding: try! JSONEncoder().encode(LearningRateSchedule(base: 0.1, milestones: [], iterations: 5)), as: UTF8.self)
        #expect(!plain.contains("decay"))
        // A decay depends on the length: a longer run is not an extension of it.
        var longer = cosine
        longer.iterations = 200
        #expect(!longer.extends(cosine) && cosine.extends(cosine))
    }

    /// Checkpoints of plain SGD record what they always did (and read back as before).
    @Test func plainSGDsRecordIsUnchanged() throws {
        #expect(try JSON.encoded(SGD()) == #"{"momentum":0.9,"weightDecay":0.0001}"#)
    }

    /// Through the command line: a LARS run with a warm-up ramp and the polynomial decay, stopped
    /// after 4 iterations and resumed, ends bit-identical to the run never stopped; resuming it as
    /// SGD is refused with the flags that resume it.
    @Test func larsResumesExactly() throws {
        let exe = try #require(executablePath(), "resnet-dist not built")
        let dir = temporaryDirectory()
        let args = [
            "train", "--arch", "resnet8", "--data", "generated", "--batch-size", "64", "--optimizer", "lars",
            "--schedule", "poly", "--lr", "2", "--warmup-epochs", "0.0625", "--iterations", "8",
        ]
        let straight = try runProcess(exe, args + ["--output", dir + "/straight"], timeout: 120)
        #expect(straight.status == 0, "\(straight.stderr)")
        let first = try runProcess(exe, args + ["--stop-after", "4", "--output", dir + "/resumed"], timeout: 120)
        #expect(first.status == 0, "\(first.stderr)")
        let sgd = try runProcess(
            exe, args.filter { $0 != "--optimizer" && $0 != "lars" } + ["--output", dir + "/resumed", "--resume", "auto"],
            timeout: 120)
        #expect(sgd.status == 65 && sgd.stderr.contains("resume with --optimizer lars --trust-coefficient 0.001"), "\(sgd.stderr)")
        let resumed = try runProcess(exe, args + ["--output", dir + "/resumed", "--resume", "auto"], timeout: 120)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let a = try tensorBytes(dir + "/straight/checkpoint-00000008.safetensors")
        let b = try tensorBytes(dir + "/resumed/checkpoint-00000008.safetensors")
        #expect(a.count > 30 && a == b)
        let config = try String(contentsOfFile: dir + "/straight/run-config.json", encoding: .utf8)
        #expect(config.contains("\"trustCoefficient\":0.001") && config.contains("\"decay\":\"polynomial\""), "\(config)")
    }

    /// Label smoothing (MLPerf's LARS recipe) through the command line: it changes what trains,
    /// is recorded in run-config.json and the checkpoint, resumes bit-identically, and a resume
    /// without it is refused with the flag that resumes it.
    @Test func labelSmoothingResumesExactly() throws {
        let exe = try #require(executablePath(), "resnet-dist not built")
        let dir = temporaryDirectory()
        let plain = [
            "train", "--arch", "resnet8", "--data", "generated", "--batch-size", "64", "--optimizer", "lars",
            "--iterations", "6",
        ]
        let args = plain + ["--label-smoothing", "0.1"]
        let unsmoothed = try runProcess(exe, plain + ["--output", dir + "/plain"], timeout: 120)
        #expect(unsmoothed.status == 0, "\(unsmoothed.stderr)")
        let straight = try runProcess(exe, args + ["--output", dir + "/straight"], timeout: 120)
        #expect(straight.status == 0, "\(straight.stderr)")
        let first = try runProcess(exe, args + ["--stop-after", "3", "--output", dir + "/resumed"], timeout: 120)
        #expect(first.status == 0, "\(first.stderr)")
        let without = try runProcess(exe, plain + ["--output", dir + "/resumed", "--resume", "auto"], timeout: 120)
        #expect(
            without.status == 65 && without.stderr.contains("'label_smoothing'")
                && without.stderr.contains("resume with --label-smoothing 0.1"), "\(without.stderr)")
        let resumed = try runProcess(exe, args + ["--output", dir + "/resumed", "--resume", "auto"], timeout: 120)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let a = try tensorBytes(dir + "/straight/checkpoint-00000006.safetensors")
        let b = try tensorBytes(dir + "/resumed/checkpoint-00000006.safetensors")
        #expect(a.count > 30 && a == b)
        #expect(try tensorBytes(dir + "/plain/checkpoint-00000006.safetensors") != a)
        let config = try String(contentsOfFile: dir + "/straight/run-config.json", encoding: .utf8)
        #expect(config.contains("\"label_smoothing\": 0.1"), "\(config)")
        let plainConfig = try String(contentsOfFile: dir + "/plain/run-config.json", encoding: .utf8)
        #expect(plainConfig.contains("\"label_smoothing\": 0.0"), "\(plainConfig)")
    }
}
