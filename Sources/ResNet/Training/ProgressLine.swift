import Foundation

/// The live terminal line: step, loss, error, images/s, ETA. On a terminal it rewrites one line;
/// otherwise (a log file, a batch queue) each update is a line of its own.
final class ProgressLine {
    let enabled: Bool
    let total: Int
    let isTerminal = isatty(STDERR_FILENO) != 0
    private var shown = false

    init(enabled: Bool, total: Int) {
        self.enabled = enabled
        self.total = total
    }

    func update(iteration: Int, loss: Double, error: Double, lr: Double, imagesPerSecond: Double, remaining: Double) {
        guard enabled else { return }
        let width = String(total).count
        let line = String(
            format: "step %\(width)d/%d  loss %.4f  err %5.2f%%  lr %.4g  %.0f img/s  ETA %@",
            iteration, total, loss, error * 100, lr, imagesPerSecond, Self.duration(remaining))
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            shown = true
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// Ends the live line so other output starts on a fresh one.
    func pause() {
        if shown {
            FileHandle.standardError.write(Data("\n".utf8))
            shown = false
        }
    }

    func finish() { pause() }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds)
        return s >= 3600
            ? String(format: "%dh%02dm", s / 3600, s / 60 % 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}
