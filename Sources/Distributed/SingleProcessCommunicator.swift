#if canImport(Glibc)
import Glibc
#endif

/// World size 1: every collective is a no-op.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Int64>) throws {}
    public func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int) throws {}
    public func startAllReduceSum(bfloat16 buffer: UnsafeMutableBufferPointer<UInt16>, slot: Int) throws {}
    public func pollReductions() throws {}
    public func waitReduction(slot: Int) throws {}
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
    public func barrier() throws {}
    public func abort(code: Int32) -> Never { exit(code) }
}
