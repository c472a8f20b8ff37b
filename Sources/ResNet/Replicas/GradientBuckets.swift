import Distributed

/// Sums the contiguous gradient buffer over all ranks, bucket by bucket of a fixed
/// `GradientBucketPlan`, each bucket as one non-blocking all-reduce started as soon as backward
/// has finished every gradient in it. `finish()` starts whatever backward did not report (all of
/// them on a rank that reports nothing) in plan order and waits for all: the collectives every
/// rank issues are those of the plan, in its order, whatever its share of the batch.
///
/// With `bfloat16` the buckets travel in 16 bits (Horovod's fp16 compression, DDP's bf16 hook):
/// each is rounded into a staging buffer when it starts, summed pair by pair in float32 on arrival,
/// and widened back into the gradients when all are done.
final class GradientBuckets {
    let communicator: Communicator
    let gradients: UnsafeMutablePointer<Float>
    let plan: GradientBucketPlan
    /// The bfloat16 copies of the gradients, while they travel; nil: they travel as float32.
    let staging: UnsafeMutablePointer<UInt16>?
    /// Buckets started in this step (a prefix of the plan).
    private var started = 0

    init(communicator: Communicator, store: ParameterStore, plan: GradientBucketPlan, bfloat16: Bool = false) {
        precondition(plan.buckets.reduce(0) { $0 + $1.count } == store.parameterCount)
        self.communicator = communicator
        gradients = store.gradients
        self.plan = plan
        staging = bfloat16 ? .allocate(capacity: store.parameterCount) : nil
        staging?.initialize(repeating: 0, count: store.parameterCount)
    }

    deinit { staging?.deallocate() }

    /// Call before each backward pass.
    func begin() { started = 0 }

    /// Gradients from `offset` on are final: start every bucket that lies wholly above it.
    func ready(from offset: Int) throws {
        while started < plan.buckets.count && plan.buckets[started].lowerBound >= offset {
            try start(started)
        }
        try communicator.pollReductions()
    }

    /// Starts bucket `index` in request slot `index % maxPendingReductions`, first waiting for the
    /// bucket that used the slot before (only plans of more than `maxPendingReductions` buckets).
    private func start(_ index: Int) throws {
        let slot = index % maxPendingReductions
        if index >= maxPendingReductions { try communicator.waitReduction(slot: slot) }
        let bucket = plan.buckets[index]
        if let staging {
            for i in bucket { staging[i] = BFloat16.bits(gradients[i]) }
            try communicator.startAllReduceSum(
                bfloat16: UnsafeMutableBufferPointer(start: staging + bucket.lowerBound, count: bucket.count), slot: slot)
        } else {
            try communicator.startAllReduceSum(
                UnsafeMutableBufferPointer(start: gradients + bucket.lowerBound, count: bucket.count), slot: slot)
        }
        started += 1
    }

    /// Starts the buckets not started yet, in plan order, and waits until every gradient holds its
    /// sum over ranks.
    func finish() throws {
        while started < plan.buckets.count { try start(started) }
        for slot in 0..<min(started, maxPendingReductions) { try communicator.waitReduction(slot: slot) }
        if let staging {
            for bucket in plan.buckets { for i in bucket { gradients[i] = BFloat16.float(staging[i]) } }
        }
    }
}
