import Distributed

extension Communicator {
    /// Runs `body` on the coordinator only; every rank then throws if it failed (the
    /// coordinator its own error, the others one of the same kind), so all ranks end alike.
    public func onCoordinator(_ body: () throws -> Void) throws {
        var failure: Error?
        if isCoordinator {
            do { try body() } catch { failure = error }
        }
        // How many failed, and the kind's code: one all-reduce. A failure that is not a ResNetError
        // (Foundation's, the system's) counts as the file system's.
        var outcome: [Int64] = [failure == nil ? 0 : 1, failure.map { (($0 as? ResNetError)?.kind ?? .fileSystem).code } ?? 0]
        try outcome.withUnsafeMutableBufferPointer { try allReduceSum($0) }
        if let failure { throw failure }
        if outcome[0] > 0 {
            throw ResNetError(
                ResNetError.Kind(code: outcome[1]) ?? .fileSystem, "the coordinator (rank 0) failed; see its message")
        }
    }
}
