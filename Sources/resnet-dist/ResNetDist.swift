import ArgumentParser
import Distributed
import Foundation
import Logging
import ResNet

@main
struct ResNetDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resnet-dist",
        abstract: "Data-parallel training of the deep residual networks of He et al. (2015) on CPUs over MPI.",
        discussion: "Run under mpirun for several processes: mpirun -np N resnet-dist train ...",
        subcommands: [Train.self, Evaluate.self, Info.self, Bench.self, Plot.self])
}

/// Prints `error: message` on one line and exits non-zero; under MPI, aborts the whole job so no
/// rank waits forever in a collective.
func fail(_ error: Error, communicator: Communicator? = nil) -> Never {
    let text = String(describing: error)
    FileHandle.standardError.write(Data("error: \(text)\n".utf8))
    if let communicator, communicator.size > 1 { communicator.abort(code: 1) }
    Foundation.exit(1)
}

/// Logging to standard error; ranks other than 0 only warn.
func makeLogger(rank: Int = 0) -> Logger {
    var logger = Logger(label: "resnet-dist") { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = .info
        return handler
    }
    logger.logLevel = rank == 0 ? .info : .warning
    return logger
}

/// One JSON object on standard output, keys sorted.
func printJSON(_ object: [String: Any]) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    print(String(decoding: data, as: UTF8.self))
}
