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
    /// The same for bfloat16 values (`BFloat16` bit patterns), half the bytes on the wire: each
    /// pair is added in float32 and rounded back once.
    func startAllReduceSum(bfloat16 buffer: UnsafeMutableBufferPointer<UInt16>, slot: Int) throws
    /// Lets started reductions progress (MPI moves non-blocking collectives inside its calls).
    func pollReductions() throws
    func waitReduction(slot: Int) throws
    /// True while a started reduction has not been seen complete (by `pollReductions` or a wait).
    var reductionsInFlight: Bool { get }
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
    /// Communicators that reduce at once have nothing in flight.
    public var reductionsInFlight: Bool { false }
}

/// Request slots every communicator offers.
public let maxPendingReductions = 64

/// bfloat16, the upper half of a float32: what compressed gradients travel as.
public enum BFloat16 {
    /// `value` rounded to the nearest bfloat16 (ties to even); NaN stays NaN.
    @inline(__always) public static func bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7fff_ffff > 0x7f80_0000 { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7fff &+ ((bits >> 16) & 1)) >> 16)
    }

    @inline(__always) public static func float(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// `a + b` in float32, rounded to bfloat16 (the reduction every communicator applies).
    @inline(__always) public static func sum(_ a: UInt16, _ b: UInt16) -> UInt16 { bits(float(a) + float(b)) }
}
