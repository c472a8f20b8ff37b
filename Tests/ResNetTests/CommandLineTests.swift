import Foundation
import Testing

@testable import ResNet

/// Bad input gets one clear line on standard error and a non-zero exit, never a crash.
struct CommandLineTests {
    func run(_ arguments: [String]) throws -> ProcessOutput {
        let exe = try #require(executablePath(), "resnet-dist not built")
        return try runProcess(exe, arguments, timeout: 120)
    }

    func expectOneLineError(
        _ out: ProcessOutput, status: Int32, containing text: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(out.status == status, "status \(out.status); stderr: \(out.stderr)", sourceLocation: sourceLocation)
        let errors = out.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") || $0.hasPrefix("Error:") }
        #expect(errors.count == 1, "stderr: \(out.stderr)")
        #expect(out.stderr.contains(text), "stderr: \(out.stderr)")
        #expect(!out.stderr.contains("Program crashed"))
    }

    @Test func depthThatIsNot6nPlus2() throws {
        expectOneLineError(
            try run(["train", "--arch", "resnet21", "--data", "generated"]), status: 64,
            containing: "depth 21 is not 6n+2")
        expectOneLineError(
            try run(["info", "--arch", "plain", "--depth", "51"]), status: 64, containing: "depth 51 is not 6n+2")
    }

    @Test func missingAndTruncatedData() throws {
        let dir = temporaryDirectory()
        expectOneLineError(
            try run(["train", "--data", dir + "/nowhere"]), status: 65, containing: "nowhere/data_batch_1.bin")
        // A folder of class folders without train/ and val/ (the layout of ../shared's imagenet-sample).
        let classes = dir + "/classes"
        try FileManager.default.createDirectory(atPath: classes + "/n01440764", withIntermediateDirectories: true)
        expectOneLineError(
            try run(["train", "--data", classes]), status: 65,
            containing: "--data \(classes): neither CIFAR-10 (data_batch_1..5.bin and test_batch.bin) nor an image folder")
        for name in CIFAR10.trainFiles + CIFAR10.testFiles {
            _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(count: 3073 * 10))
        }
        expectOneLineError(
            try run(["train", "--data", dir]), status: 65, containing: "data_batch_1.bin: truncated or wrong size")
    }

    /// launch/prepare-data.sh takes one directory: a flag or a second argument is a usage mistake
    /// (one line, status 64), not a directory to unpack into followed by "trains on generated data".
    @Test func prepareDataRefusesFlagsAndExtraArguments() throws {
        let script = packageRoot + "/launch/prepare-data.sh"
        for (arguments, says) in [
            (["--bogus"], "unknown option '--bogus'"), (["a", "b"], "one directory, got 2 arguments"),
        ] {
            let out = try runProcess("/bin/bash", [script] + arguments, timeout: 60)
            #expect(out.status == 64, "\(arguments): status \(out.status), stderr: \(out.stderr)")
            #expect(out.stdout.isEmpty && out.stderr.split(separator: "\n").count == 1, "\(out.stdout)\(out.stderr)")
            #expect(out.stderr.hasPrefix("usage: ") && out.stderr.contains(says), "\(out.stderr)")
        }
    }

    /// 3 replicas share a batch of 16 (6, 5 and 5 images); it used to be refused.
    @Test func batchThatTheWorldSizeDoesNotDivide() throws {
        let out = try run([
            "train", "--arch", "resnet8", "--data", "generated", "--replicas", "3", "--batch-size", "16",
            "--iterations", "2", "--json",
        ])
        #expect(out.status == 0, "stderr: \(out.stderr)")
        #expect(out.stdout.contains("\"replicas_identical\":true"), "stdout: \(out.stdout)")
    }

    /// A run that has logged nothing yet (an empty metrics.jsonl) is named, not drawn as an empty frame.
    @Test func plotRefusesARunWithNothingLogged() throws {
        let dir = temporaryDirectory()
        _ = FileManager.default.createFile(atPath: dir + "/metrics.jsonl", contents: Data())
        expectOneLineError(
            try run(["plot", dir, "-o", dir + "/f.svg"]), status: 65,
            containing: "\(dir)/metrics.jsonl: no training or test error logged yet")
        #expect(!FileManager.default.fileExists(atPath: dir + "/f.svg"))
    }

    /// A file that cannot be written is named as asked for, with its directory's reason.
    @Test func exportIntoAMissingDirectoryNamesTheFile() throws {
        let dir = temporaryDirectory()
        expectOneLineError(
            try run(["export", "--checkpoint", packageRoot + "/pretrained/resnet20-cifar10.safetensors", "-o", dir + "/nowhere/m.safetensors"]),
            status: 1, containing: "\(dir)/nowhere/m.safetensors: cannot create a file in \(dir)/nowhere (No such file or directory)")
    }

    /// `scaling predict` refuses links that would predict nonsense (a negative latency once gave a
    /// shorter step), negative numbers included.
    @Test(
        "scaling predict: each bad link number is one line and 64",
        arguments: [
            ("--gbit=-1", "--gbit must be a finite number > 0, got -1.0"),
            ("--gbit=inf", "--gbit must be a finite number > 0, got inf"),
            ("--latency-us=-5", "--latency-us must be a finite number >= 0, got -5.0"),
            ("--shm-gbit=0", "--shm-gbit must be a finite number > 0, got 0.0"),
            ("--shm-latency-us=nan", "--shm-latency-us must be a finite number >= 0, got nan"),
            ("--bucket-mb=-1", "--bucket-mb must be a positive number of MiB up to 1,048,576, got -1.0"),
        ])
    func scalingPredictRefusesNonsenseLinks(flag: String, message: String) throws {
        let trace = packageRoot + "/docs/runs/scaling-traces/per-block/r110-b1.json"
        let base = ["scaling", "predict", "--trace", trace, "--ranks", "4"]
        let arguments = flag.hasPrefix("--gbit") ? base + [flag] : base + ["--gbit", "10", flag]
        expectOneLineError(try run(arguments), status: 64, containing: message)
    }

    @Test func plotErrorAxisMustBeAPercentage() throws {
        for bad in ["0", "120", "nan"] {
            expectOneLineError(
                try run(["plot", "somewhere", "-o", temporaryDirectory() + "/f.svg", "--error-max", bad]), status: 64,
                containing: "--error-max must be a percentage in (0, 100]")
        }
    }

    @Test func plotOutputThatIsADirectoryIsRefused() throws {
        let directory = temporaryDirectory()
        expectOneLineError(
            try run(["plot", "somewhere", "-o", directory]), status: 64,
            containing: "--output \(directory) is a directory: name the file to write")
        expectOneLineError(
            try run(["plot", "somewhere", "-o", directory + "/f.svg", "--table", directory]), status: 64,
            containing: "--table \(directory) is a directory")
    }

    @Test func bucketSizeMustBePositive() throws {
        expectOneLineError(
            try run(["train", "--arch", "resnet8", "--data", "generated", "--bucket-mb", "0"]), status: 64,
            containing: "--bucket-mb must be a positive number of MiB up to 1,048,576, got 0.0")
    }

    @Test func zeroInitResidualIsForResidualNetworksAndRecorded() throws {
        expectOneLineError(
            try run(["train", "--arch", "plain20", "--data", "generated", "--zero-init-residual"]), status: 64,
            containing: "--zero-init-residual is for residual networks; plain20 has no shortcuts")
        let dir = temporaryDirectory()
        let out = try run([
            "train", "--arch", "resnet8", "--data", "generated", "--iterations", "2", "--zero-init-residual",
            "--output", dir,
        ])
        #expect(out.status == 0, "stderr: \(out.stderr)")
        let config = try String(contentsOfFile: dir + "/run-config.json", encoding: .utf8)
        #expect(config.contains("\"zero_init_residual\": true"), "\(config)")
    }

    /// The generated set's 2,048 images at batch 300: 6 full steps an epoch with --drop-last, 7
    /// without; a checkpoint of one epoch length does not resume at the other.
    @Test func dropLastCountsFullBatchesAndResumesOnlyWithItself() throws {
        let dir = temporaryDirectory()
        let common = ["train", "--arch", "resnet8", "--data", "generated", "--batch-size", "300", "--epochs", "1", "--json"]
        let dropped = try run(common + ["--drop-last", "--output", dir])
        #expect(dropped.status == 0, "stderr: \(dropped.stderr)")
        #expect(dropped.stdout.contains("\"iterations\":6"), "stdout: \(dropped.stdout)")
        let config = try String(contentsOfFile: dir + "/run-config.json", encoding: .utf8)
        #expect(config.contains("\"drop_last\": true") && config.contains("\"batches_per_epoch\": 6"), "\(config)")
        let kept = try run(common)
        #expect(kept.stdout.contains("\"iterations\":7"), "stdout: \(kept.stdout)")
        expectOneLineError(
            try run(["train", "--arch", "resnet8", "--data", "generated", "--batch-size", "300", "--epochs", "2", "--resume", "auto", "--output", dir]),
            status: 65, containing: "was trained at 6 batches an epoch, this run has 7")
        expectOneLineError(
            try run(["train", "--arch", "resnet8", "--data", "generated", "--batch-size", "4096", "--drop-last"]), status: 64,
            containing: "--drop-last leaves no full batch of 4096 in 2048 training images")
    }

    @Test func checkpointOfAnotherArchitectureOrCorrupt() throws {
        let dir = temporaryDirectory()
        let trained = try run([
            "train", "--arch", "resnet8", "--data", "generated", "--batch-size", "16", "--iterations", "2", "--output",
            dir,
        ])
        #expect(trained.status == 0, "\(trained.stderr)")
        let file = dir + "/checkpoint-00000002.safetensors"
        expectOneLineError(
            try run(["train", "--arch", "resnet14", "--data", "generated", "--resume", file]), status: 65,
            containing: "checkpoint is resnet8/A, not resnet14/A")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count / 2] ^= 1
        try bytes.write(to: URL(fileURLWithPath: file))
        expectOneLineError(
            try run(["eval", "--checkpoint", file, "--data", dir + "/no-data-needed-first"]), status: 65,
            containing: file)
    }

    @Test(
        "--recipe paper: warm-up at 0.01 for ResNet-110, 0.1 from the start for ResNet-20",
        arguments: [("resnet110", 0.01), ("resnet20", 0.1)])
    func paperRecipe(arch: String, firstRate: Double) throws {
        let dir = temporaryDirectory("recipe\(arch)")
        let out = try run([
            "train", "--recipe", "paper", "--arch", arch, "--data", "generated", "--batch-size", "8",
            "--iterations", "2", "--log-every", "1", "--output", dir,
        ])
        #expect(out.status == 0, "\(out.stderr)")
        let log = try RunLog(directory: dir)
        #expect(log.train.count == 2)
        let text = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        #expect(text.contains("\"lr\":\(firstRate)"), "\(text)")
    }

    /// The learning rates of a run's first iterations, as metrics.jsonl records them.
    func learningRates(_ arguments: [String]) throws -> [Double] {
        let dir = temporaryDirectory("rates")
        let out = try run(
            ["train", "--arch", "resnet8", "--data", "generated", "--log-every", "1", "--output", dir] + arguments)
        #expect(out.status == 0, "\(out.stderr)")
        let text = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["kind"] as? String == "train" ? object?["lr"] as? Double : nil
        }
    }

    @Test func paperRecipeCompressedToTheRunLength() throws {
        // /10 at 50% and 75% of 8 iterations, as 32k and 48k of 64k.
        let rates = try learningRates(["--recipe", "paper", "--batch-size", "8", "--iterations", "8"])
        #expect(rates.count == 8)
        #expect(rates[0..<4].allSatisfy { $0 == 0.1 }, "\(rates)")
        #expect(rates[4..<6].allSatisfy { abs($0 - 0.01) < 1e-12 }, "\(rates)")
        #expect(rates[6..<8].allSatisfy { abs($0 - 0.001) < 1e-12 }, "\(rates)")
        // Explicit milestones still win.
        let explicit = try learningRates([
            "--recipe", "paper", "--batch-size", "8", "--iterations", "8", "--milestones", "2",
        ])
        #expect(explicit[1] == 0.1 && abs(explicit[2] - 0.01) < 1e-12 && abs(explicit[7] - 0.01) < 1e-12, "\(explicit)")
    }

    @Test func linearScalingWithWarmupEpochsAndEpochMilestones() throws {
        // 2,048 generated images at batch 16: 128 iterations an epoch; 1/32 epoch = 4 iterations of ramp.
        let rates = try learningRates([
            "--batch-size", "16", "--lr-scaling", "linear", "--reference-batch", "8",
            "--warmup-epochs", "0.03125", "--iterations", "8", "--milestones", "0.5e",
        ])
        #expect(rates.count == 8)
        #expect(rates[0] == 0.1 && abs(rates[2] - 0.15) < 1e-12 && rates[4] == 0.2 && rates[7] == 0.2, "\(rates)")
    }

    /// Without linear scaling (LARS's warm-up) the ramp climbs from lr/K to lr over its K
    /// iterations, then the polynomial decay takes the rate to 0 at the end.
    @Test func warmupWithoutScalingRampsFromNearZero() throws {
        // 2,048 generated images at batch 16: 128 iterations an epoch; 1/32 epoch = 4 iterations of ramp.
        let rates = try learningRates([
            "--batch-size", "16", "--optimizer", "lars", "--lr", "2", "--schedule", "poly",
            "--warmup-epochs", "0.03125", "--iterations", "8",
        ])
        #expect(rates.count == 8)
        #expect(abs(rates[0] - 0.5) < 1e-12 && abs(rates[1] - 0.875) < 1e-12 && abs(rates[3] - 1.625) < 1e-12, "\(rates)")
        #expect(rates[4] == 2 && rates[5] < 2 && rates[7] > 0 && rates[7] < rates[6], "\(rates)")
    }

    /// A finished run extended with the same explicit milestones trains exactly what one longer run
    /// does. Milestones that follow from the length (--recipe paper) would move: that is refused,
    /// with the flags that extend it instead, and those flags work.
    @Test func extendingARun() throws {
        let dir = temporaryDirectory()
        let explicit = ["train", "--arch", "resnet8", "--data", "generated", "--batch-size", "16", "--milestones", "10"]
        let straight = try run(explicit + ["--iterations", "40", "--output", dir + "/straight"])
        #expect(straight.status == 0, "\(straight.stderr)")
        let short = try run(explicit + ["--iterations", "20", "--output", dir + "/extended"])
        #expect(short.status == 0, "\(short.stderr)")
        let extended = try run(explicit + ["--iterations", "40", "--output", dir + "/extended", "--resume", "auto"])
        #expect(extended.status == 0 && extended.stderr.contains("at iteration 20"), "\(extended.stderr)")
        let a = try tensorBytes(dir + "/straight/checkpoint-00000040.safetensors")
        let b = try tensorBytes(dir + "/extended/checkpoint-00000040.safetensors")
        #expect(a.count > 30 && a == b, "the extended run is the 40-iteration run, bit for bit")

        let paper = ["train", "--arch", "resnet8", "--data", "generated", "--batch-size", "16", "--recipe", "paper"]
        #expect(try run(paper + ["--iterations", "20", "--output", dir + "/paper"]).status == 0)
        let moved = try run(paper + ["--iterations", "40", "--output", dir + "/paper", "--resume", "auto"])
        expectOneLineError(
            moved, status: 65, containing: "extend it with --lr 0.1 --milestones 10,15 and a larger --iterations")
        let hinted = try run(
            paper + ["--iterations", "40", "--milestones", "10,15", "--output", dir + "/paper", "--resume", "auto"])
        #expect(hinted.status == 0, "\(hinted.stderr)")
        // Shorter than the run was: refused too.
        let shorter = try run(explicit + ["--iterations", "30", "--output", dir + "/straight", "--resume", "auto"])
        expectOneLineError(shorter, status: 65, containing: "another learning-rate schedule")
    }

    /// README's first command without CIFAR-10: one epoch of the generated set is 16 steps, too few
    /// for the running statistics testing uses; the run says so against chance, with the training
    /// error that shows the learning.
    @Test func theFirstRunOnGeneratedDataSaysWhatItsNumbersMean() throws {
        let dir = temporaryDirectory()
        let out = try run(["train", "--arch", "resnet20", "--data", "generated", "--epochs", "1", "--output", dir])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stderr.contains("training error"), "\(out.stderr)")
        #expect(out.stderr.contains("chance is 10% on the 10 generated classes"), "\(out.stderr)")
        #expect(out.stderr.contains("--epochs 5"), "\(out.stderr)")
    }

    /// Issue 23's two defects: info gave ResNet-34 "5 blocks per stage" ((34-2)/6), and eval fed an
    /// ImageNet network 32x32 images and answered.
    @Test func imageNetNetworksInInfoAndEval() throws {
        let info = try run(["info", "--arch", "resnet34", "--json"])
        #expect(info.status == 0, "\(info.stderr)")
        let fields = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as! [String: Any]
        #expect(fields["blocks_per_stage"] as? [Int] == [3, 4, 6, 3])
        #expect(try run(["info", "--arch", "resnet110"]).stdout.contains("basic blocks per stage: 18, 18, 18"))

        let dir = temporaryDirectory()
        let net = Network(try Architecture.parse("resnet18"), batchCapacity: 1)
        try Checkpoint.save(net, normalization: .pytorchCIFAR10, run: nil, to: dir + "/resnet18.safetensors")
        expectOneLineError(
            try run(["eval", "--checkpoint", dir + "/resnet18.safetensors", "--data", dir]), status: 65,
            containing: "holds resnet18, an ImageNet network (224x224 inputs): give --data an image folder")
    }
}
