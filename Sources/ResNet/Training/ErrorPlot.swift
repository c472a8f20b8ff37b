import Foundation

/// The paper's kind of figure (Figures 1, 4, 6): training error (thin) and test error (bold)
/// against iterations, one colour per run, as SVG.
public enum ErrorPlot {
    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public static func svg(_ runs: [RunLog], title: String) -> String {
        let width = 720.0
        let height = 440.0
        let left = 60.0
        let right = 180.0
        let top = 36.0
        let bottom = 48.0
        let plotW = width - left - right
        let plotH = height - top - bottom
        let maxIteration = Double(runs.flatMap { $0.train.map(\.iteration) + $0.test.map(\.iteration) }.max() ?? 1)
        let allErrors = runs.flatMap { $0.train.map(\.error) + $0.test.map(\.error) }
        let yMax = min(100, max(10, ((allErrors.max() ?? 1) * 100 / 10).rounded(.up) * 10))
        func x(_ it: Int) -> Double { left + Double(it) / max(maxIteration, 1) * plotW }
        func y(_ e: Double) -> Double { top + plotH - min(e * 100, yMax) / yMax * plotH }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left + plotW / 2)" y="20" text-anchor="middle" font-size="14">\(escape(title))</text>

            """
        // Grid and axes.
        let yStep = yMax > 50 ? 10.0 : 5.0
        var tick = 0.0
        while tick <= yMax + 1e-9 {
            let py = top + plotH - tick / yMax * plotH
            out += "<line x1=\"\(left)\" y1=\"\(py)\" x2=\"\(left + plotW)\" y2=\"\(py)\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(left - 6)\" y=\"\(py + 4)\" text-anchor=\"end\">\(Int(tick))</text>\n"
            tick += yStep
        }
        let xTicks = 5
        for i in 0...xTicks {
            let it = maxIteration * Double(i) / Double(xTicks)
            let px = left + plotW * Double(i) / Double(xTicks)
            out += "<line x1=\"\(px)\" y1=\"\(top + plotH)\" x2=\"\(px)\" y2=\"\(top + plotH + 4)\" stroke=\"black\"/>"
            out += "<text x=\"\(px)\" y=\"\(top + plotH + 18)\" text-anchor=\"middle\">\(label(it))</text>\n"
        }
        out +=
            "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"black\"/>\n"
        out += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">iterations</text>\n"
        out +=
            "<text x=\"16\" y=\"\(top + plotH / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(top + plotH / 2))\">error (%)</text>\n"
        // Curves: training error thin, test error bold.
        for (i, run) in runs.enumerated() {
            let colour = colours[i % colours.count]
            if run.train.count > 1 {
                let points = run.train.map { "\(x($0.iteration)),\(y($0.error))" }.joined(separator: " ")
                out +=
                    "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1\" stroke-opacity=\"0.8\"/>\n"
            }
            if !run.test.isEmpty {
                let points = run.test.map { "\(x($0.iteration)),\(y($0.error))" }.joined(separator: " ")
                out += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"3\"/>\n"
                for p in run.test {
                    out += "<circle cx=\"\(x(p.iteration))\" cy=\"\(y(p.error))\" r=\"3\" fill=\"\(colour)\"/>"
                }
                out += "\n"
            }
            let ly = top + 16 + Double(i) * 20
            out +=
                "<line x1=\"\(left + plotW + 14)\" y1=\"\(ly - 4)\" x2=\"\(left + plotW + 40)\" y2=\"\(ly - 4)\" stroke=\"\(colour)\" stroke-width=\"3\"/>"
            out += "<text x=\"\(left + plotW + 46)\" y=\"\(ly)\">\(escape(run.name))</text>\n"
        }
        let ly = top + 24 + Double(runs.count) * 20
        out += "<text x=\"\(left + plotW + 14)\" y=\"\(ly)\" fill=\"#555\">thin: training error</text>\n"
        out += "<text x=\"\(left + plotW + 14)\" y=\"\(ly + 16)\" fill=\"#555\">bold: test error</text>\n"
        return out + "</svg>\n"
    }

    /// A Markdown table of the runs' final errors, like the paper's Table 6.
    public static func table(_ runs: [RunLog]) -> String {
        var out =
            "| run | iterations | training error (%) | test error (%) | best test error (%) |\n| --- | --- | --- | --- | --- |\n"
        for run in runs {
            let last = run.train.last
            let test = run.test.last
            let best = run.test.map(\.error).min()
            func pct(_ v: Double?) -> String { v.map { String(format: "%.2f", $0 * 100) } ?? "-" }
            out +=
                "| \(run.name) | \(max(last?.iteration ?? 0, test?.iteration ?? 0)) | \(pct(last?.error)) | \(pct(test?.error)) | \(pct(best)) |\n"
        }
        return out
    }

    static func label(_ it: Double) -> String {
        it >= 10_000
            ? String(format: "%.0fk", it / 1000) : it >= 1000 ? String(format: "%.1fk", it / 1000) : String(Int(it))
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;")
    }
}
