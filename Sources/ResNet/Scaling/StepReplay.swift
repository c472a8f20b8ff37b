import Distributed
import Foundation

/// The emulation behind the scaling model: a rank that replays a measured `StepTrace` instead of
/// computing (it sleeps until each recorded moment, so it costs no CPU) while it runs the real
/// communication of a step: the same bucket plan through `GradientBuckets`, started at the
/// recorded moments, the loss sums and the batch-norm statistics as `DataParallelStep` sends them.
/// Many such ranks on one machine, spread over network namespaces, show what the all-reduce costs
/// at a world size the machine could not compute.
public final class StepReplay {
    public let trace: StepTrace
    public let communicator: Communicator
    let buckets: GradientBuckets
    let statistics: UnsafeMutableBufferPointer<Float>
    var sums = [Double](repeating: 0, count: 4)
    /// Time dilation (Gupta et al., "To Infinity and Beyond: Time-Warped Network Emulation", NSDI
    /// 2006): every recorded moment is replayed `timeScale` times later and the step's seconds are
    /// divided by it, so with the links shaped to 1/`timeScale` of the rate being emulated, the
    /// emulated world runs `timeScale` times slower than the wall clock. The bytes are the same, so
    /// the kernel's and MPI's work per byte and per message (which on a cluster has a core of each
    /// rank's own, and here dozens of ranks share two) weighs `timeScale` times less in the step.
    public let timeScale: Double

    /// `store`: the traced network's (its gradients and statistics travel; their values do not
    /// matter); `plan` cuts its gradients; `bfloat16`: they travel in 16 bits.
    public init(
        trace: StepTrace, store: ParameterStore, communicator: Communicator, plan: GradientBucketPlan,
        bfloat16: Bool = false, timeScale: Double = 1, pollInterval: Double = 100e-6
    ) {
        precondition(store.parameterCount == trace.parameterCount, "the trace is of another network")
        precondition(timeScale >= 1, "time runs slower, not faster")
        self.trace = trace
        self.timeScale = timeScale
        self.pollInterval = pollInterval
        self.communicator = communicator
        statistics = store.runningStatistics
        buckets = GradientBuckets(communicator: communicator, store: store, plan: plan, bfloat16: bfloat16)
    }

    /// How long a waiting rank sleeps between polls of its reductions, wall seconds. A rank on a
    /// cluster spins in MPI and moves each ring round as it arrives; a replaying rank moves it at
    /// its next poll, so a round may wait up to one interval (K times less in the emulated time
    /// under dilation), while every poll of dozens of ranks costs the two cores that also move
    /// the bytes.
    public let pollInterval: Double

    /// One replayed step; returns its seconds on this rank (in the emulated world's time).
    public func step() throws -> Double {
        let k = timeScale
        let start = monotonicSeconds()
        buckets.begin()
        for ready in trace.readies {
            sleep(until: start + ready.seconds * k)
            try buckets.ready(from: ready.offset)
        }
        sleep(until: start + trace.computeSeconds * k)
        // Start what is left and let it progress, sleeping between polls rather than spinning in
        // MPI_Wait: on a cluster each rank spins on a core of its own; here dozens of replaying
        // ranks share two cores, and spinners would steal the time the others need to move data.
        try buckets.ready(from: 0)
        while communicator.reductionsInFlight {
            try communicator.pollReductions()
            sleep(until: monotonicSeconds() + pollInterval)
        }
        try buckets.finish()
        try sums.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        sleep(until: monotonicSeconds() + trace.updateSeconds * k)
        try communicator.allReduceSum(statistics)
        return (monotonicSeconds() - start) / k
    }

    private func sleep(until deadline: Double) {
        let wait = deadline - monotonicSeconds()
        guard wait > 0 else { return }
        var request = timespec(tv_sec: Int(wait), tv_nsec: Int((wait - wait.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
