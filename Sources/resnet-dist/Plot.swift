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

    @Option(help: "Also write a Markdown table of final errors here ('-' for standard output). (default: no table)")
    var table: String?

    @Option(help: "Figure title.")
    var title = "CIFAR-10"

    enum Layout: String, ExpressibleByArgument, CaseIterable {
        case single, paper
    }

    @Option(
        help:
            "single: every run in one panel; paper: the paper's Figure 6, plain networks in a left panel and ResNets in a right one (by each run's architecture)."
    )
    var layout = Layout.single

    @Option(
        help:
            "Top of the error axis in percent (the paper's Figure 6 stops at 20); curves above it leave the frame. (default: the largest error, in whole tens)"
    )
    var errorMax: Double?

    func validate() throws {
        if let errorMax, !(errorMax > 0 && errorMax <= 100) {
            throw ValidationError("--error-max must be a percentage in (0, 100], got \(errorMax)")
        }
        // Written by rename over the path: onto a directory that failed at the end, as an I/O error (1).
        for (flag, path, kind) in [("--output", output, "svg"), ("--table", table ?? "-", "md")] where path != "-" {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                if isDirectory.boolValue { throw ValidationError("\(flag) \(path) is a directory: name the file to write") }
                // `--output RUN/metrics.csv` replaced a run's records with a figure (2026-12-02): an
                // existing file is replaced only when it is what plot writes.
                if (path as NSString).pathExtension.lowercased() != kind {
                    throw ValidationError(
                        "\(flag) \(path) exists and is not a .\(kind) file: plot replaces only its own kind of file")
                }
            }
        }
        if let table, table != "-", URL(fileURLWithPath: table).standardized == URL(fileURLWithPath: output).standardized {
            throw ValidationError("--table and --output are the same file, \(output): name two")
        }
    }

    func run() throws {
        let logs = try runs.map { try RunLog(directory: $0) }
        // A run that has logged nothing yet would be an empty frame, or silently missing from one.
        if let (directory, _) = zip(runs, logs).first(where: { $1.train.isEmpty && $1.test.isEmpty }) {
            throw ResNetError(
                .data, "\((directory as NSString).appendingPathComponent("metrics.jsonl")): no training or test error logged yet: nothing to plot")
        }
        let svg: String
        switch layout {
        case .single:
            svg = ErrorPlot.svg(logs, title: title, errorMax: errorMax)
        case .paper:
            let plain = logs.filter(\.isPlain)
            let residual = logs.filter { !$0.isPlain }
            guard !plain.isEmpty, !residual.isEmpty else {
                throw ValidationError(
                    "--layout paper needs plain and residual runs: got \(plain.count) plain and \(residual.count) ResNet"
                )
            }
            svg = ErrorPlot.svg(
                left: plain, right: residual, titles: ("\(title): plain", "\(title): ResNet"), errorMax: errorMax)
        }
        try AtomicFile.write(Data(svg.utf8), to: output)
        if let table {
            let text = ErrorPlot.table(logs)
            if table == "-" { print(text, terminator: "") } else { try AtomicFile.write(Data(text.utf8), to: table) }
        }
    }
}
