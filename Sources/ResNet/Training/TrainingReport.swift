import Foundation
import Logging

/// What the coordinator reports while it trains: a record per logged window and per evaluation
/// in metrics.jsonl, metrics.csv and a TensorBoard event file, the live terminal line, and the
/// log. Other ranks report nothing.
final class TrainingReport {
    let metrics: MetricsLog?
    let table: MetricsCSV?
    let events: TensorBoardEvents?
    let progress: ProgressLine
    let logger: Logger
    let batchesPerEpoch: Int
    let runStart: Double
    /// The steps since the last logged window, and when that window started (training time only).
    private var window = StepStats()
    private var windowStart: Double
    private(set) var lastTrainError: Double?

    init(enabled: Bool, directory: String?, progress: Bool, total: Int, batchesPerEpoch: Int, logger: Logger) throws {
        metrics = enabled ? try MetricsLog(directory: directory) : nil
        let files = enabled ? directory : nil
        table = try files.map { try MetricsCSV(directory: $0) }
        events = try files.map { try TensorBoardEvents(directory: $0) }
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
    func logWindow(iteration: Int, learningRate: Double, remainingIterations: Int, globalBatch: Int) {
        let now = monotonicSeconds()
        let rate = window.images / max(now - windowStart, 1e-9)
        lastTrainError = window.error
        metrics?.write([
            "kind": "train", "iteration": iteration, "epoch": Double(iteration) / Double(batchesPerEpoch),
            "lr": learningRate, "loss": window.loss, "error": window.error, "images_per_s": rate,
            "time_s": now - runStart,
        ])
        table?.write(
            kind: "train",
            [
                "iteration": Double(iteration), "epoch": Double(iteration) / Double(batchesPerEpoch),
                "lr": learningRate, "loss": window.loss, "error": window.error, "images_per_s": rate,
                "time_s": now - runStart,
            ])
        events?.write(
            step: iteration,
            [
                "train/loss": window.loss, "train/error": window.error, "train/lr": learningRate,
                "train/images_per_s": rate,
            ])
        progress.window(
            iteration: iteration, loss: window.loss, error: window.error, lr: learningRate,
            imagesPerSecond: rate, remaining: Double(remainingIterations * globalBatch) / rate)
        window = StepStats()
        windowStart = monotonicSeconds()
    }

    func logEvaluation(iteration: Int, _ result: StepStats) {
        metrics?.write([
            "kind": "eval", "iteration": iteration, "epoch": Double(iteration) / Double(batchesPerEpoch),
            "test_loss": result.loss, "test_error": result.error, "test_accuracy": 1 - result.error,
        ])
        table?.write(
            kind: "eval",
            [
                "iteration": Double(iteration), "epoch": Double(iteration) / Double(batchesPerEpoch),
                "test_loss": result.loss, "test_error": result.error,
            ])
        events?.write(step: iteration, ["test/error": result.error, "test/loss": result.loss])
        logger.info(
            "iteration \(iteration): test accuracy \(String(format: "%.2f", (1 - result.error) * 100))%, loss \(String(format: "%.4f", result.loss))"
        )
    }

    /// Time spent away from training (evaluation, checkpoints) does not count towards the rate.
    func excludeFromRate(seconds: Double) { windowStart += seconds }
}
