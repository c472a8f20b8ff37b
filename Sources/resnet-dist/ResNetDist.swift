import ArgumentParser
import Distributed
import Foundation
import Kernels
import Logging
import ResNet

@main
struct ResNetDist: ParsableCommand {
    static let version = "0.5.0"

    static let configuration = CommandConfiguration(
        commandName: "resnet-dist",
        abstract: "Data-parallel training of the deep residual networks of He et al. (2015) on CPUs over MPI.",
        discussion: """
            Run under mpirun for several processes: mpirun -np N resnet-dist train ...
            Exit status: 0 done; 64 bad flags; 65 bad input or a run that cannot go on as asked (data, \
            checkpoint, divergence: a restart would fail again); 75 stopped by SIGTERM/SIGINT/SIGUSR1 after \
            writing a checkpoint (resume with --resume auto); 1 any other failure (a lost rank, I/O: a \
            restart may succeed).
            """,
        version: version,
        subcommands: [Train.self, Evaluate.self, Export.self, Info.self, Bench.self, Scaling.self, Plot.self, SelfTestCommand.self])

    /// Without a subcommand: the help, and a failure status (nothing was done).
    func run() throws {
        FileHandle.standardError.write(Data((Self.helpMessage() + "\n").utf8))
        throw ExitCode(ExitStatus.usage)
    }

    /// One error policy for every command: a single `error:` line (from rank 0 alone under
    /// mpirun, unless only one rank failed) and the documented exit status.
    static func main() {
        // Before any kernel runs: a CPU without the kernels' instructions gets a line, not SIGILL.
        if let unsupported = InstructionSet.unsupportedMessage() {
            FileHandle.standardError.write(Data("error: \(unsupported)\n".utf8))
            Foundation.exit(ExitStatus.badInput)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            ErrorPolicy.exit(with: error)
        }
    }
}

/// Exit statuses, as `resnet-dist --help` documents them.
enum ExitStatus {
    static let failure: Int32 = 1
    static let usage: Int32 = 64
    static let badInput: Int32 = 65
    static let stoppedBySignal: Int32 = 75
}

enum ErrorPolicy {
    /// How long the ranks that agree on an error wait in MPI_Finalize for one stuck elsewhere before
    /// they abort the job: longer than any step's collectives take to drain, short enough for a queue.
    static let stuckRankSeconds: UInt32 = 20

    /// The rank under an MPI launcher, before (or without) MPI_Init; 0 otherwise.
    static var launcherRank: Int {
        for key in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"] {
            if let text = ProcessInfo.processInfo.environment[key], let rank = Int(text) { return rank }
        }
        return 0
    }

    /// Reports `error` and exits; with `communicator`, ends the whole job cleanly.
    static func exit(with error: Error, communicator: Communicator? = nil) -> Never {
        let rank = communicator?.rank ?? launcherRank
        if let failure = error as? ResNetError, failure.kind == .usage {
            if rank == 0 { printError(failure) }
            if let communicator, communicator.size > 1 {
                // Every rank checked the same flags against the same data.
                communicator.finalize()
            }
            Foundation.exit(ExitStatus.usage)
        }
        if error is ExitCode || isParserError(error) {
            // Flag errors, help and --version: every rank parsed the same flags; rank 0 speaks.
            if rank == 0 { ResNetDist.exit(withError: error) }
            Foundation.exit(ResNetDist.exitCode(for: error).rawValue)
        }
        let everyRankAgrees =
            (error as? ResNetError).map { $0.kind != .fileSystem && $0.kind != .injectedFailure } ?? false
        let status = everyRankAgrees ? ExitStatus.badInput : ExitStatus.failure
        guard let communicator, communicator.size > 1 else {
            printError(error)
            Foundation.exit(status)
        }
        if everyRankAgrees {
            // Every rank met the same error at the same point: rank 0 reports it, all finish MPI
            // and exit alike (no abort). Should a rank be stuck elsewhere, abort after a while.
            if rank == 0 { printError(error) }
            Thread.detachNewThread {
                sleep(stuckRankSeconds)
                communicator.abort(code: status)
            }
            communicator.finalize()
            Foundation.exit(status)
        }
        printError(error, prefix: "rank \(rank): ")
        communicator.abort(code: status)
    }

    static func printError(_ error: Error, prefix: String = "") {
        FileHandle.standardError.write(Data("error: \(prefix)\(String(describing: error))\n".utf8))
    }

    static func isParserError(_ error: Error) -> Bool {
        error is ValidationError || error is CleanExit
            || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }
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
