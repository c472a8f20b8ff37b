import Foundation

/// The paper's kind of figure (Figures 1, 4, 6): training error (thin) and test error (bold)
/// against iterations, one colour per run, as SVG, iterations ticked at round numbers in the
/// paper's units; one panel, or plain networks beside ResNets. The error axis fits the runs, or
/// stops at `errorMax` percent as the paper's Figure 6 stops at 20: curves above it leave the
/// frame, so the ends of the runs, where they differ by tenths of a point, can be told apart.
public enum ErrorPlot {
    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// One panel of all `runs`.
    public static func svg(_ runs: [RunLog], title: String, errorMax: Double? = nil) -> String {
        let axes = Axes(runs, errorMax: errorMax)
        let frame = (x: 60.0, y: 36.0, width: 480.0, height: 356.0)
        var out = header(width: max(720, Int(legendEnd(runs, after: frame.x + frame.width))), height: 440)
        out += panel(runs, axes: axes, frame: frame, title: title, id: "single")
        return out + "</svg>\n"
    }

    /// Where the legend beside a panel ending at `plotRight` ends: the figure is made wide enough
    /// for the longest run name (about 7 px a character at 12 px Helvetica), so none is cut.
    static func legendEnd(_ runs: [RunLog], after plotRight: Double) -> Double {
        let longest = runs.map(\.name.count).max() ?? 0
        return max(plotRight + 46 + 7 * Double(longest), plotRight + 14 + 7 * Double("thin: training error".count)) + 10
    }

    /// The paper's Figure 4/6 layout: plain networks on the left, ResNets on the right, on the
    /// same axes, each panel with its own legend.
    public static func svg(
        left: [RunLog], right: [RunLog], titles: (String, String), errorMax: Double? = nil
    ) -> String {
        let axes = Axes(left + right, errorMax: errorMax)
        let rightX = max(700, legendEnd(left, after: 60 + 420) + 56)
        var out = header(width: max(1280, Int(legendEnd(right, after: rightX + 420))), height: 440)
        out += panel(left, axes: axes, frame: (x: 60, y: 36, width: 420, height: 356), title: titles.0, id: "left")
        out += panel(right, axes: axes, frame: (x: rightX, y: 36, width: 420, height: 356), title: titles.1, id: "right")
        return out + "</svg>\n"
    }

    /// Shared axis ranges: iterations up to a round number, error in whole tens (or fives) of
    /// percent up to the largest error, or up to `errorMax` percent.
    struct Axes {
        let xMax: Double
        let xStep: Double
        let yMax: Double
        init(_ runs: [RunLog], errorMax: Double? = nil) {
            let last = Double(runs.flatMap { $0.train.map(\.iteration) + $0.test.map(\.iteration) }.max() ?? 1)
            xStep = ErrorPlot.roundStep(for: max(last, 1))
            xMax = (max(last, 1) / xStep).rounded(.up) * xStep
            let errors = runs.flatMap { $0.train.map(\.error) + $0.test.map(\.error) }
            yMax = errorMax ?? min(100, max(10, ((errors.max() ?? 1) * 100 / 10).rounded(.up) * 10))
        }
    }

    /// A tick step of 1, 2 or 5 times a power of ten giving 4 to 8 intervals up to `range`.
    static func roundStep(for range: Double) -> Double {
        let power = pow(10, (log10(range / 4)).rounded(.down))
        for factor in [1.0, 2, 5, 10] where range / (factor * power) <= 8 { return factor * power }
        return 10 * power
    }

    /// Tick labels in the paper's units: 1e4 iterations from 10,000 on ("iter. (1e4)"), else k.
    static func xUnit(_ xMax: Double) -> (scale: Double, title: String) {
        xMax >= 20_000 ? (1e4, "iter. (1e4)") : xMax >= 2_000 ? (1e3, "iter. (1e3)") : (1, "iterations")
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(format: "%g", v)
    }

    static func header(width: Int, height: Int) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>

        """
    }

    static func panel(
        _ runs: [RunLog], axes: Axes, frame: (x: Double, y: Double, width: Double, height: Double), title: String,
        id: String
    ) -> String {
        let (left, top, plotW, plotH) = frame
        let yMax = axes.yMax
        func x(_ it: Int) -> Double { left + Double(it) / axes.xMax * plotW }
        func y(_ e: Double) -> Double { top + plotH - e * 100 / yMax * plotH }
        var out =
            "<text x=\"\(left + plotW / 2)\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">\(escape(title))</text>\n"
        // Grid and axes.
        let yStep = yMax > 50 ? 10.0 : yMax > 10 ? 5.0 : 1.0
        var tick = 0.0
        while tick <= yMax + 1e-9 {
            let py = top + plotH - tick / yMax * plotH
            out += "<line x1=\"\(left)\" y1=\"\(py)\" x2=\"\(left + plotW)\" y2=\"\(py)\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(left - 6)\" y=\"\(py + 4)\" text-anchor=\"end\">\(Int(tick))</text>\n"
            tick += yStep
        }
        let unit = xUnit(axes.xMax)
        var iteration = 0.0
        while iteration <= axes.xMax + 1e-9 {
            let px = left + plotW * iteration / axes.xMax
            out += "<line x1=\"\(px)\" y1=\"\(top + plotH)\" x2=\"\(px)\" y2=\"\(top + plotH + 4)\" stroke=\"black\"/>"
            out +=
                "<text x=\"\(px)\" y=\"\(top + plotH + 18)\" text-anchor=\"middle\">\(number(iteration / unit.scale))</text>\n"
            iteration += axes.xStep
        }
        out +=
            "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"black\"/>\n"
        out += "<text x=\"\(left + plotW / 2)\" y=\"\(top + plotH + 38)\" text-anchor=\"middle\">\(unit.title)</text>\n"
        out +=
            "<text x=\"\(left - 44)\" y=\"\(top + plotH / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 \(left - 44) \(top + plotH / 2))\">error (%)</text>\n"
        // Curves: training error thin, test error bold, drawn inside the frame only.
        out +=
            "<clipPath id=\"frame-\(id)\"><rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\"/></clipPath>\n"
        out += "<g clip-path=\"url(#frame-\(id))\">\n"
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
        }
        out += "</g>\n"
        // Legend.
        for (i, run) in runs.enumerated() {
            let colour = colours[i % colours.count]
            let ly = top + 16 + Double(i) * 20
            out +=
                "<line x1=\"\(left + plotW + 14)\" y1=\"\(ly - 4)\" x2=\"\(left + plotW + 40)\" y2=\"\(ly - 4)\" stroke=\"\(colour)\" stroke-width=\"3\"/>"
            out += "<text x=\"\(left + plotW + 46)\" y=\"\(ly)\">\(escape(run.name))</text>\n"
        }
        let ly = top + 24 + Double(runs.count) * 20
        out += "<text x=\"\(left + plotW + 14)\" y=\"\(ly)\" fill=\"#555\">thin: training error</text>\n"
        out += "<text x=\"\(left + plotW + 14)\" y=\"\(ly + 16)\" fill=\"#555\">bold: test error</text>\n"
        return out
    }

    /// A Markdown table of the runs' final errors, beside the paper's Table 6 where it lists the
    /// network.
    public static func table(_ runs: [RunLog]) -> String {
        var out =
            "| run | network | iterations | training error (%) | test error (%) | best test error (%) | paper, Table 6 (%) |\n| --- | --- | --- | --- | --- | --- | --- |\n"
        for run in runs {
            let last = run.train.last
            let test = run.test.last
            let best = run.test.map(\.error).min()
            func pct(_ v: Double?) -> String { v.map { String(format: "%.2f", $0 * 100) } ?? "-" }
            let paper = PaperTable6.testError(of: run.architecture).map { String(format: "%.2f", $0) } ?? "-"
            out +=
                "| \(run.name) | \(run.architecture ?? "-") | \(max(last?.iteration ?? 0, test?.iteration ?? 0)) | \(pct(last?.error)) | \(pct(test?.error)) | \(pct(best)) | \(paper) |\n"
        }
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;")
    }
}
