import ArgumentParser
import Foundation
import ResNet

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Training (thin) and test (bold) error against iterations of runs, as SVG, and a Markdown table of their final errors."
    )

    @Argument(help: "Run directories (each a train --output with metrics.jsonl).")
    var runs: [String]

    @Option(name: .shortAndLong, help: "The SVG file to write.")
    var output: String

    @Option(help: "Also write a Markdown table of final errors here ('-' for standard output).")
    var table: String?

    @Option(help: "Figure title.")
    var title = "CIFAR-10"

    func run() throws {
        let logs = try runs.map { try RunLog(directory: $0) }
        try AtomicFile.write(Data(ErrorPlot.svg(logs, title: title).utf8), to: output)
        if let table {
            let text = ErrorPlot.table(logs)
            if table == "-" { print(text, terminator: "") } else { try AtomicFile.write(Data(text.utf8), to: table) }
        }
    }
}
