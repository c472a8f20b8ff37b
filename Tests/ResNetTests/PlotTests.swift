import Foundation
import Testing

@testable import ResNet

struct PlotTests {
    /// A run directory with a metrics.jsonl up to `last` and a run-config.json naming `arch`.
    func run(_ name: String, arch: String, last: Int) throws -> String {
        let dir = temporaryDirectory(name) + "/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var lines = ""
        for iteration in stride(from: 1000, through: last, by: 1000) {
            lines += "{\"kind\":\"train\",\"iteration\":\(iteration),\"error\":0.2}\n"
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
