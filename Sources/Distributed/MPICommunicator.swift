import MPIShim

#if canImport(Glibc)
import Glibc
#endif

/// The communicator over MPI_COMM_WORLD (OpenMPI), through the C shim.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    /// Storage for the non-blocking requests' handles, one per slot, and which slots are in flight.
    private let requests: UnsafeMutableRawPointer
    private let requestSize: Int
    private var inFlight = [Bool](repeating: false, count: maxPendingReductions)

    /// True when this process was started by an MPI launcher (mpirun, srun).
    public static var launchedByMPI: Bool {
        let env = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"]
        return env.contains { getenv($0) != nil }
    }

    /// Initialises MPI (a singleton when not launched by mpirun) and reads rank and size.
    public init() throws {
        if rd_mpi_is_initialized() == 0 { try Self.check(rd_mpi_init(), "MPI_Init") }
        var r: Int32 = 0
        var s: Int32 = 0
        try Self.check(rd_mpi_rank(&r), "MPI_Comm_rank")
        try Self.check(rd_mpi_size(&s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
        requestSize = rd_mpi_request_size()
        requests = .allocate(byteCount: requestSize * maxPendingReductions, alignment: 16)
    }

    deinit { requests.deallocate() }

    /// Finalises MPI; call once at the end of a successful run.
    public func finalize() {
        if rd_mpi_is_initialized() != 0 { _ = rd_mpi_finalize() }
    }

    /// The MPI settings the shim chooses defaults for (rd_mpi_init), as MPI runs with them: the
    /// non-blocking all-reduce's algorithm (1 is the ring) and TCP's eager limit in bytes. A user's
    /// `mpirun --mca` or environment value shows here instead of the default. A variable this MPI
    /// does not have (another version, a transport not loaded) is left out.
    public func transportSettings() -> [String: Int] {
        var settings: [String: Int] = [:]
        for name in ["coll_libnbc_iallreduce_algorithm", "btl_tcp_eager_limit"] {
            var value: Int64 = 0
            if rd_mpi_control_variable(name, &value) == 0 { settings[name] = Int(value) }
        }
        return settings
    }

    static func check(_ code: Int32, _ what: String) throws {
        guard code == 0 else {
            var text = [CChar](repeating: 0, count: 512)
            rd_mpi_error_string(code, &text, 512)
            throw CommunicatorError("\(what) failed: \(String(cString: text))")
        }
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let p = buffer.baseAddress, size > 1 else { return }
        try Self.check(rd_mpi_allreduce_sum_f32(p, Int64(buffer.count)), "MPI_Allreduce")
    }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard let p = buffer.baseAddress, size > 1 else { return }
        try Self.check(rd_mpi_allreduce_sum_f64(p, Int64(buffer.count)), "MPI_Allreduce")
    }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Int64>) throws {
        guard let p = buffer.baseAddress, size > 1 else { return }
        try Self.check(rd_mpi_allreduce_sum_i64(p, Int64(buffer.count)), "MPI_Allreduce")
    }
    public func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int) throws {
        guard let p = buffer.baseAddress, size > 1 else { return }
        try start(slot: slot) { rd_mpi_iallreduce_sum_f32(p, Int64(buffer.count), $0) }
    }
    public func startAllReduceSum(bfloat16 buffer: UnsafeMutableBufferPointer<UInt16>, slot: Int) throws {
        guard let p = buffer.baseAddress, size > 1 else { return }
        try start(slot: slot) { rd_mpi_iallreduce_sum_bf16(p, Int64(buffer.count), $0) }
    }
    /// Starts a non-blocking collective whose handle `call` writes into `slot`'s request storage.
    private func start(slot: Int, _ call: (UnsafeMutableRawPointer) -> Int32) throws {
        precondition(!inFlight[slot], "reduction slot \(slot) is in use")
        try Self.check(call(requests + slot * requestSize), "MPI_Iallreduce")
        inFlight[slot] = true
    }
    public func pollReductions() throws {
        var done: Int32 = 0
        for slot in 0..<maxPendingReductions where inFlight[slot] {
            try Self.check(rd_mpi_test(requests + slot * requestSize, &done), "MPI_Test")
            if done != 0 { inFlight[slot] = false }
        }
    }
    public var reductionsInFlight: Bool { inFlight.contains(true) }
    public func waitReduction(slot: Int) throws {
        guard inFlight[slot] else { return }
        inFlight[slot] = false
        try Self.check(rd_mpi_wait(requests + slot * requestSize), "MPI_Wait")
    }
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard let p = buffer.baseAddress, size > 1 else { return }
        try Self.check(rd_mpi_bcast_bytes(p, Int64(buffer.count), Int32(root)), "MPI_Bcast")
    }
    public func barrier() throws {
        guard size > 1 else { return }
        try Self.check(rd_mpi_barrier(), "MPI_Barrier")
    }
    public func abort(code: Int32) -> Never {
        rd_mpi_abort(code)
        exit(code)
    }
}
