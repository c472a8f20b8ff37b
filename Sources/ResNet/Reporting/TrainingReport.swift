import Foundation
import Logging

/// What the coordinator reports while it trains: a record per logged window and per evaluation
/// in metrics.jsonl, metrics.csv and a TensorBoard event file, the live terminal line, and the
/// log. Other ranks report nothing.
final class TrainingReport {
    /// metrics.jsonl, metrics.csv and the TensorBoard events: on the coordinator with an output directory.
    let sinks: [MetricSink]
    let progress: ProgressLine
    let logger: Logger
    let batchesPerEpoch: Int
    let runStart: Double
    /// The steps since the last logged window, and when that window started (training time only).
    private var window = StepStats()
    private var windowStart: Double
    private(set) var lastTrainError: Double?
    /// The evaluation line gives the top-5 error too (more than 10 classes).
    let topFive: Bool

    init(
        enabled: Bool, directory: String?, progress: Bool, total: Int, batchesPerEpoch: Int, topFive: Bool = false,
        logger: Logger
    ) throws {
        self.topFive = topFive
        if enabled, let directory {
            sinks = [try MetricsLog(directory: directory), try MetricsCSV(directory: directory), try TensorBoardEvents(directory: directory)]
        } else {
            sinks = []
        }
        self.progress = ProgressLine(enabled: enabled && progress, total: total)
        self.logger = logger
        self.batchesPerEpoch = batchesPerEpoch
        runStart = monotonicSeconds()
        windowStart = runStart
    }

    /// A step is done: into the window, and onto the live line (at most once a second).
    func record(_ step: StepStats, iteration: Int, learningRate: Double, remainingIterations: Int, globalBatch: Int) {
        window += step
        let rate = window.images / max(monotonicSeconds() - windowStart, 1e-9)
        progress.step(
            iteration: iteration, loss: window.loss, error: window.error, lr: learningRate, imagesPerSecond: rate,
            remaining: Double(remainingIterations * globalBatch) / rate)
    }

    /// Ends the window after `iteration`: metrics line and live line.
    func logWindow(iteration: Int, learningRate: Double, remainingIterations: Int, globalBatch: Int) throws {
        let now = monotonicSeconds()
        let rate = window.images / max(now - windowStart, 1e-9)
        lastTrainError = window.error
        try write(
            MetricRecord(
                .train, iteration: iteration,
                [
                    "epoch": epoch(iteration), "lr": learningRate, "loss": window.loss, "error": window.error,
                    "images_per_s": rate, "time_s": now - runStart,
                ]))
        progress.window(
            iteration: iteration, loss: window.loss, error: window.error, lr: learningRate,
            imagesPerSecond: rate, remaining: Double(remainingIterations * globalBatch) / rate)
        window = StepStats()
        windowStart = monotonicSeconds()
    }

    func logEvaluation(iteration: Int, _ result: StepStats) throws {
        try write(
            MetricRecord(
                .eval, iteration: iteration,
                [
                    "epoch": epoch(iteration), "test_loss": result.loss, "test_error": result.error,
                    "test_accuracy": 1 - result.error, "test_top5_error": result.top5Error,
                ]))
        logger.info(
            "iteration \(iteration): test accuracy \(String(format: "%.2f", (1 - result.error) * 100))%\(topFive ? String(format: ", top-5 error %.2f%%", result.top5Error * 100) : ""), loss \(String(format: "%.4f", result.loss))"
        )
    }

    /// To every sink; the first that cannot write ends the run (its file keeps its earlier records).
    private func write(_ record: MetricRecord) throws {
        for sink in sinks { try sink.write(record) }
    }

    private func epoch(_ iteration: Int) -> Double { Double(iteration) / Double(batchesPerEpoch) }

    /// Time spent away from training (evaluation, checkpoints) does not count towards the rate.
    func excludeFromRate(seconds: Double) { windowStart += seconds }
}
