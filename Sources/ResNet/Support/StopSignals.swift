import Dispatch
import Foundation
import Synchronization

/// SIGTERM, SIGINT and SIGUSR1 (what Slurm's `--signal`, Kubernetes, a shutdown and Ctrl-C send)
/// turned into a request to stop after the current step, which the training loop polls. A second
/// SIGINT ends the process at once (status 130).
public final class StopSignals: @unchecked Sendable {
    public static let shared = StopSignals()
    public static let handled: [Int32] = [SIGTERM, SIGINT, SIGUSR1]
    private let received = Atomic<Int32>(0)
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()

    /// Starts catching the signals (idempotent).
    public func install() {
        lock.lock()
        defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for number in Self.handled {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in
                let (exchanged, earlier) = received.compareExchange(
                    expected: 0, desired: number, ordering: .sequentiallyConsistent)
                if !exchanged && number == SIGINT && earlier == SIGINT {
                    FileHandle.standardError.write(Data("\nsecond interrupt: exiting now, without a checkpoint\n".utf8))
                    _exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The first stop signal received, or 0.
    public var requested: Int32 { received.load(ordering: .sequentiallyConsistent) }

    /// The signal's name (`SIGTERM`).
    public static func name(_ number: Int32) -> String {
        switch number {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGUSR1: return "SIGUSR1"
        default: return "signal \(number)"
        }
    }
}
