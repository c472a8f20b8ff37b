import Foundation
import Testing

@testable import ResNet

struct PlotTests {
    /// A run directory with a metrics.jsonl up to `last` and a run-config.json naming `arch`.
    func run(_ name: String, arch: String, last: Int, trainError: Double = 0.2) throws -> String {
        let dir = temporaryDirectory(name) + "/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var lines = ""
        for iteration in stride(from: 1000, through: last, by: 1000) {
            lines += "{\"kind\":\"train\",\"iteration\":\(iteration),\"error\":\(trainError)}\n"
        }
        lines += "{\"kind\":\"eval\",\"iteration\":\(last),\"test_error\":0.1}\n"
        try lines.write(toFile: dir + "/metrics.jsonl", atomically: true, encoding: .utf8)
        try "{\"arch\": \"\(arch)\"}".write(toFile: dir + "/run-config.json", atomically: true, encoding: .utf8)
        return dir
    }

    func texts(_ svg: String) -> [String] {
        let regex = try! NSRegularExpression(pattern: "<text[^>]*>([^<]*)</text>")
        return regex.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).map {
            String(svg[Range($0.range(at: 1), in: svg)!])
        }
    }

    @Test func ticksAtRoundNumbersInThePapersUnits() {
        #expect(ErrorPlot.roundStep(for: 64_000) == 10_000)
        #expect(ErrorPlot.roundStep(for: 1_000) == 200)
        #expect(ErrorPlot.roundStep(for: 11_730) == 2_000)
        #expect(ErrorPlot.roundStep(for: 7) == 1)
        #expect(ErrorPlot.xUnit(70_000).title == "iter. (1e4)" && ErrorPlot.xUnit(1_000).title == "iterations")
    }

    @Test func thePapersLayoutPutsPlainNetworksLeftAndResNetsRight() throws {
        let plain = try RunLog(directory: try run("p20", arch: "plain20/A", last: 64_000))
        let residual = try RunLog(directory: try run("r20", arch: "resnet20/A", last: 64_000))
        #expect(plain.isPlain && !residual.isPlain)
        let svg = ErrorPlot.svg(left: [plain], right: [residual], titles: ("plain", "ResNet"))
        let labels = texts(svg)
        // Both panels: 0 ... 7 (x 1e4 iterations) under each, then the unit.
        let ticks = (0...7).map(String.init)
        #expect(labels.filter { $0 == "iter. (1e4)" }.count == 2)
        #expect(ticks.allSatisfy { tick in labels.filter { $0 == tick }.count >= 2 })
        let names = labels.filter { $0 == "p20" || $0 == "r20" || $0 == "plain" || $0 == "ResNet" }
        #expect(names == ["plain", "p20", "ResNet", "r20"])
    }

    /// A long run name (a directory of docs/runs) fits in the figure: the figure widens for it,
    /// in one panel and in the paper's layout, where the right panel moves over for the left legend.
    @Test func theLegendFitsLongRunNames() throws {
        let name = "resnet20-b4096-lars-t002-30e"
        let long = try RunLog(directory: try run(name, arch: "resnet20/A", last: 3_000))
        let short = try RunLog(directory: try run("r20", arch: "resnet20/A", last: 3_000))
        func width(_ svg: String) -> Double? {
            let regex = try! NSRegularExpression(pattern: "<svg [^>]*width=\"([0-9.]+)\"")
            return regex.firstMatch(in: svg, range: NSRange(svg.startIndex..., in: svg)).flatMap {
                Double(svg[Range($0.range(at: 1), in: svg)!])
            }
        }
        func nameX(_ svg: String) -> [Double] {
            let regex = try! NSRegularExpression(pattern: "<text x=\"([0-9.]+)\" y=\"[0-9.]+\">\(name)</text>")
            return regex.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).map {
                Double(svg[Range($0.range(at: 1), in: svg)!])!
            }
        }
        #expect(width(ErrorPlot.svg([short], title: "t")) == 720)
        let single = ErrorPlot.svg([long], title: "t")
        let x = try #require(nameX(single).first)
        #expect(try #require(width(single)) >= x + 7 * Double(name.count), "\(single.prefix(300))")
        let pair = ErrorPlot.svg(left: [long], right: [long], titles: ("plain", "ResNet"))
        let xs = nameX(pair)
        #expect(xs.count == 2)
        // The left legend ends before the right panel's error ticks (60 px left of its frame) begin.
        #expect(xs[0] + 7 * Double(name.count) < xs[1] - 420 - 46 - 60, "\(xs)")
        #expect(try #require(width(pair)) >= xs[1] + 7 * Double(name.count))
    }

    /// `--error-max 20` as the paper's Figure 6: ticks 0-20 in fives, the 20% training curve on the
    /// frame's top edge, a 40% one above it and clipped there, not flattened onto the edge.
    @Test func anErrorAxisStoppedAt20PercentClipsWhatLiesAbove() throws {
        let log = try RunLog(directory: try run("r20", arch: "resnet20/A", last: 3_000))
        let fitted = ErrorPlot.svg([log], title: "fitted")
        let svg = ErrorPlot.svg([log], title: "paper", errorMax: 20)
        let numbers = Set(texts(svg).compactMap(Int.init))
        #expect(numbers.isSuperset(of: [0, 5, 10, 15, 20]) && !numbers.contains(25) && !numbers.contains(30))
        // The frame is 356 high from y = 36: 20% (training) sits at 36, 10% (test, at 3,000) at 214.
        #expect(svg.contains("<polyline points=\"220.0,36.0 380.0,36.0 540.0,36.0\""), "\(svg)")
        #expect(svg.contains("<polyline points=\"540.0,214.0\""), "\(svg)")
        #expect(svg.contains("<clipPath id=\"frame-single\"><rect x=\"60.0\" y=\"36.0\" width=\"480.0\" height=\"356.0\"/>"))
        #expect(svg.contains("<g clip-path=\"url(#frame-single)\">"))
        // Fitted to the runs, the axis reaches the largest error (20%) in whole tens, as before.
        #expect(Set(texts(fitted).compactMap(Int.init)).isSuperset(of: [0, 5, 10, 15, 20]))
        let high = try RunLog(directory: try run("high", arch: "resnet20/A", last: 3_000, trainError: 0.4))
        let clipped = ErrorPlot.svg([high], title: "paper", errorMax: 20)
        #expect(clipped.contains("\(1000.0 / 3000 * 480 + 60),-320.0"), "\(clipped)")
    }

    @Test func theTableStandsEachResNetBesideThePapersTable6() throws {
        let residual = try RunLog(directory: try run("r56", arch: "resnet56/A", last: 11_730))
        let plain = try RunLog(directory: try run("p56", arch: "plain56", last: 11_730))
        let optionB = try RunLog(directory: try run("r56b", arch: "resnet56/B", last: 11_730))
        let rows = ErrorPlot.table([residual, plain, optionB]).split(separator: "\n").dropFirst(2)
        #expect(
            Array(rows) == [
                "| r56 | resnet56/A | 11730 | 20.00 | 10.00 | 10.00 | 6.97 |",
                "| p56 | plain56 | 11730 | 20.00 | 10.00 | 10.00 | - |",
                "| r56b | resnet56/B | 11730 | 20.00 | 10.00 | 10.00 | - |",
            ])
    }
}
