/// A failed collective: the rank that saw it should stop the whole job (see `Communicator.abort`).
public struct CommunicatorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The collectives data-parallel training needs. Ranks are `0..<size`; every collective must be
/// called by every rank in the same order. The training code sees only this protocol.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// In-place sums over all ranks; every rank ends with the same bits.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Int64>) throws
    /// Starts an in-place float sum in request slot `slot` (`0..<maxPendingReductions`), for overlap
    /// with backward; the buffer holds the result after `waitReduction(slot:)`. Starting and waiting
    /// allocate nothing.
    func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int) throws
    /// Lets started reductions progress (MPI moves non-blocking collectives inside its calls).
    func pollReductions() throws
    func waitReduction(slot: Int) throws
    /// Copies `root`'s bytes into every rank's buffer.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    func barrier() throws
    /// Ends every rank of the job with `code`, so none waits forever in a collective.
    func abort(code: Int32) -> Never
    /// Ends the communicator's part in the job at the end of a run (MPI_Finalize); a no-op where
    /// there is nothing to end.
    func finalize()
}

extension Communicator {
    public var isCoordinator: Bool { rank == 0 }
    public func finalize() {}
}

/// Request slots every communicator offers.
public let maxPendingReductions = 64
