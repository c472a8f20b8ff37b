import Foundation
import Testing

@testable import ResNet

/// A Python that can import the `tensorboard` package: $RESNET_DIST_TEST_PYTHON (as .ci/run sets),
/// else python3. nil when there is none: the reader test then skips and says so.
let tensorboardPython: String? = {
    let candidates = [ProcessInfo.processInfo.environment["RESNET_DIST_TEST_PYTHON"], "/usr/bin/python3"]
    return candidates.compactMap { $0 }.first { python in
        FileManager.default.isExecutableFile(atPath: python)
            && (try? runProcess(python, ["-c", "import tensorboard"], timeout: 60).status) == 0
    }
}()

struct TensorBoardTests {
    /// A run directory after 8 iterations, logged every 2 and evaluated every 4.
    func trainedRun(_ name: String = #function) throws -> String {
        let dir = temporaryDirectory(name)
        var config = smallConfig(batch: 16, iterations: 8)
        config.logEvery = 2
        config.evalEvery = 4
        config.outputDirectory = dir
        let data = SyntheticData.make(count: 64, seed: 5)
        _ = try InProcessReplicas.train(
            replicas: 1, config: config, train: data, test: data, normalization: .perPixelMean(of: data),
            logger: quietLogger)
        return dir
    }

    @Test func crc32cOfTheStandardCheckValue() {
        // The check value of CRC-32C (RFC 3720, iSCSI) and TFRecord's masking of it.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        let crc: UInt32 = 0xE306_9283
        #expect(CRC32C.masked(Array("123456789".utf8)) == ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
    }

    @Test func metricsCSVHasARowPerJSONLine() throws {
        let dir = try trainedRun()
        let json = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let csv = try String(contentsOfFile: dir + "/metrics.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first == Substring(MetricsCSV.columns.joined(separator: ",")))
        #expect(csv.count == json.count + 1 && json.count == 4 + 2)
        // The iteration-8 training row carries the same loss as its JSON line, to the last digit.
        let trainRow = csv.first { $0.hasPrefix("train,8,") }!.split(separator: ",", omittingEmptySubsequences: false)
        let trainLine = json.first { $0.contains("\"kind\":\"train\"") && $0.contains("\"iteration\":8,") }!
        #expect(trainLine.contains("\"loss\":\(trainRow[4]),"))
        #expect(trainRow.count == MetricsCSV.columns.count && trainRow[8] == "" && trainRow[9] == "")
    }

    @Test(.enabled(if: tensorboardPython != nil, "no Python with the tensorboard package (pip install tensorboard)"))
    func tensorboardReadsOurScalars() throws {
        let dir = try trainedRun()
        let reader = """
            import json, sys
            from tensorboard.backend.event_processing import event_accumulator
            acc = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={event_accumulator.SCALARS: 0})
            acc.Reload()
            print(json.dumps({tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}))
            """
        let out = try runProcess(tensorboardPython!, ["-c", reader, dir], timeout: 120)
        #expect(out.status == 0, "\(out.stderr)")
        let scalars = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as! [String: [[Double]]]
        #expect(
            Set(scalars.keys) == [
                "train/loss", "train/error", "train/lr", "train/images_per_s", "test/error", "test/loss",
            ])
        // Every value equals metrics.jsonl's at the same step (as float32, TensorBoard's type).
        let lines = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        for (tag, kind, key) in [
            ("train/loss", "train", "loss"), ("train/error", "train", "error"), ("train/lr", "train", "lr"),
            ("test/error", "eval", "test_error"), ("test/loss", "eval", "test_loss"),
        ] {
            let expected = records.filter { $0["kind"] as? String == kind }.map {
                [Float($0["iteration"] as! Int), Float($0[key] as! Double)]
            }
            #expect(scalars[tag]!.map { $0.map(Float.init) } == expected, "\(tag)")
        }
        #expect(
            scalars["train/loss"]!.map { $0[0] } == [2, 4, 6, 8] && scalars["test/error"]!.map { $0[0] } == [4, 8])
    }
}
