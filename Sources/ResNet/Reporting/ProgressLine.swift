import Foundation

/// The live terminal line: step, loss, error, images/s, ETA; and the evaluation's progress. On a
/// terminal it rewrites one line at most once a second (and at most once a step), cut to the
/// terminal's width so it never wraps into stale copies; otherwise (a log file, a batch queue)
/// it writes a line per logged window and nothing in between.
public final class ProgressLine {
    let enabled: Bool
    let total: Int
    let isTerminal: Bool
    /// Columns of the terminal (read at each update: the window can be resized).
    private let columns: () -> Int
    private var shown = false
    private var lastShown = -Double.infinity

    public init(
        enabled: Bool, total: Int, isTerminal: Bool = isatty(STDERR_FILENO) != 0,
        columns: @escaping () -> Int = terminalColumns
    ) {
        self.enabled = enabled
        self.total = total
        self.isTerminal = isTerminal
        self.columns = columns
    }

    /// The fields of a training line, most important first: a narrow terminal drops the last ones.
    func fields(
        iteration: Int, loss: Double, error: Double, lr: Double, imagesPerSecond: Double, remaining: Double
    )
        -> [String]
    {
        let width = String(total).count
        return [
            String(format: "step %\(width)d/%d", iteration, total),
            String(format: "loss %.4f", loss),
            String(format: "err %5.2f%%", error * 100),
            "ETA " + Self.duration(remaining),
            String(format: "%.0f img/s", imagesPerSecond),
            String(format: "lr %.4g", lr),
        ]
    }

    /// A training step is done: shown on a terminal if a second has passed since the last update.
    func step(iteration: Int, loss: Double, error: Double, lr: Double, imagesPerSecond: Double, remaining: Double) {
        guard enabled, isTerminal, due() else { return }
        show(
            fields(
                iteration: iteration, loss: loss, error: error, lr: lr, imagesPerSecond: imagesPerSecond,
                remaining: remaining))
    }

    /// A logged window ends: off a terminal, its line.
    func window(iteration: Int, loss: Double, error: Double, lr: Double, imagesPerSecond: Double, remaining: Double) {
        guard enabled, !isTerminal else { return }
        let line = fields(
            iteration: iteration, loss: loss, error: error, lr: lr, imagesPerSecond: imagesPerSecond,
            remaining: remaining)
        FileHandle.standardError.write(Data((line.joined(separator: "  ") + "\n").utf8))
    }

    /// The test pass has done `done` of `count` images (this rank's share).
    public func evaluation(done: Int, of count: Int) {
        guard enabled, isTerminal, due() || done == count else { return }
        show([
            "evaluating", "\(done)/\(count) images",
            String(format: "%.0f%%", 100 * Double(done) / Double(max(count, 1))),
        ])
    }

    private func due() -> Bool {
        let now = monotonicSeconds()
        guard now - lastShown >= 1 else { return false }
        lastShown = now
        return true
    }

    /// The fields that fit in the terminal, on the one rewritten line.
    private func show(_ fields: [String]) {
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + Self.fit(fields, columns: columns())).utf8))
        shown = true
    }

    /// As many leading fields as fit in `columns - 1` (the last column would wrap on some
    /// terminals), two spaces apart; the first field alone is cut to fit.
    static func fit(_ fields: [String], columns: Int) -> String {
        let room = max(columns - 1, 1)
        var line = ""
        for field in fields {
            let next = line.isEmpty ? field : line + "  " + field
            if next.count > room { break }
            line = next
        }
        return line.isEmpty ? String(fields.first?.prefix(room) ?? "") : line
    }

    /// Ends the live line so other output starts on a fresh one.
    func pause() {
        if shown {
            FileHandle.standardError.write(Data("\n".utf8))
            shown = false
        }
        lastShown = -Double.infinity
    }

    public func finish() { pause() }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds)
        return s >= 3600
            ? String(format: "%dh%02dm", s / 3600, s / 60 % 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}

/// The width of the terminal on standard error ($COLUMNS if it cannot be asked; 80 otherwise).
public func terminalColumns() -> Int {
    var size = winsize()
    if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
    return ProcessInfo.processInfo.environment["COLUMNS"].flatMap { Int($0) } ?? 80
}
