import Foundation

/// N replicas in one process, one thread each: the whole distributed path without a launcher,
/// for tests and `train --test`. Sums are taken in rank order, so every rank gets the same bits.
public final class ThreadGroup: @unchecked Sendable {
    public let size: Int
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    private var slots: [UnsafeMutableRawPointer?]
    private var failed = false

    public init(size: Int) {
        precondition(size >= 1)
        self.size = size
        slots = Array(repeating: nil, count: size)
    }

    /// The communicator for `rank`; give each to its own thread.
    public func communicator(rank: Int) -> Communicator { ThreadCommunicator(group: self, rank: rank) }

    /// Waits until every rank has arrived; throws if a rank aborted.
    func barrier() throws {
        condition.lock()
        defer { condition.unlock() }
        if failed { throw CommunicatorError("a replica aborted") }
        let g = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == g && !failed { condition.wait() }
        }
        if failed { throw CommunicatorError("a replica aborted") }
    }

    func publish(_ pointer: UnsafeMutableRawPointer, rank: Int) {
        condition.lock()
        slots[rank] = pointer
        condition.unlock()
    }

    func slot(_ rank: Int) -> UnsafeMutableRawPointer {
        condition.lock()
        defer { condition.unlock() }
        return slots[rank]!
    }

    public func fail() {
        condition.lock()
        failed = true
        condition.broadcast()
        condition.unlock()
    }

    func sum<T: AdditiveArithmetic>(_ buffer: UnsafeMutableBufferPointer<T>, rank: Int) throws {
        try combine(buffer, rank: rank, +)
    }

    /// Every rank's `buffer` folded with `add` in rank order, into every rank's buffer.
    func combine<T>(_ buffer: UnsafeMutableBufferPointer<T>, rank: Int, _ add: (T, T) -> T) throws {
        guard size > 1, let base = buffer.baseAddress else { return }
        let count = buffer.count
        let copy = UnsafeMutablePointer<T>.allocate(capacity: count)
        defer { copy.deallocate() }
        copy.initialize(from: base, count: count)
        publish(UnsafeMutableRawPointer(copy), rank: rank)
        try barrier()
        let others = (0..<size).map { slot($0).assumingMemoryBound(to: T.self) }
        for i in 0..<count {
            var s = others[0][i]
            for r in 1..<size { s = add(s, others[r][i]) }
            base[i] = s
        }
        try barrier()
    }
}

final class ThreadCommunicator: Communicator {
    let group: ThreadGroup
    let rank: Int
    var size: Int { group.size }

    init(group: ThreadGroup, rank: Int) {
        self.group = group
        self.rank = rank
    }

    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws { try group.sum(buffer, rank: rank) }
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws { try group.sum(buffer, rank: rank) }
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Int64>) throws { try group.sum(buffer, rank: rank) }
    /// Completes at once (in rank order, like every sum here).
    func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int) throws { try allReduceSum(buffer) }
    func startAllReduceSum(bfloat16 buffer: UnsafeMutableBufferPointer<UInt16>, slot: Int) throws {
        try group.combine(buffer, rank: rank, BFloat16.sum)
    }
    func pollReductions() throws {}
    func waitReduction(slot: Int) throws {}
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard size > 1, let base = buffer.baseAddress else { return }
        group.publish(base, rank: rank)
        try group.barrier()
        if rank != root { base.copyMemory(from: group.slot(root), byteCount: buffer.count) }
        try group.barrier()
    }
    func barrier() throws { try group.barrier() }
    func abort(code: Int32) -> Never {
        group.fail()
        Thread.exit()
        fatalError("unreachable")
    }
}
