import Distributed

/// How long a data-parallel step takes on N ranks, from one rank's measured `StepTrace` and an
/// alpha-beta model of the links (time = latency + bytes / bandwidth per message):
///
/// - Ranks sit `ranksPerHost` to a host, in blocks (ranks 0..<m on the first host, as mpirun maps
///   by slot). Between hosts a message pays the network's latency and bandwidth; inside a host,
///   shared memory's.
/// - Each gradient bucket starts when backward has finished it (the trace), whatever the others do:
///   the buckets in flight at once share the link (`step`).
/// - A bucket's all-reduce advances only inside MPI calls: OpenMPI's libnbc has no progress thread,
///   so the next round of a ring (its messages posted, the rendezvous of a large one answered)
///   waits until the rank enters MPI again. During backward the trainer does so when backward
///   reports finished gradients (`GradientBuckets.ready`: one MPI_Testall a report, the trace's
///   moments); after backward it waits in MPI, so at once. The step ends
///   when backward and the last reduction have, then the loss sums, the update and the batch-norm
///   statistics follow as `DataParallelStep` runs them.
/// - The all-reduce algorithm is the one the trainer has OpenMPI 4.1's libnbc take for its in-place
///   `MPI_Iallreduce`: the ring (`coll_libnbc_iallreduce_algorithm` 1, set by the MPI shim). Left to
///   itself libnbc takes the binomial tree for any in-place call (`libnbcChoice`); `algorithm`
///   forces binomial, ring or Rabenseifner (reduce-scatter + all-gather).
///   The blocking all-reduces of small buffers take recursive doubling (coll/tuned below 10 kB).
public struct ScalingModel: Sendable {
    /// One kind of link: seconds per message, seconds per byte.
    public struct Link: Sendable, Equatable {
        public var latency: Double
        public var bytesPerSecond: Double
        public init(latency: Double, bytesPerSecond: Double) {
            self.latency = latency
            self.bytesPerSecond = bytesPerSecond
        }
        /// A link of `gbit` Gbit/s.
        public static func gigabits(_ gbit: Double, latency: Double) -> Link {
            Link(latency: latency, bytesPerSecond: gbit * 1e9 / 8)
        }
        func seconds(_ bytes: Double) -> Double { latency + bytes / bytesPerSecond }
    }

    public enum Algorithm: String, Sendable, CaseIterable {
        case binomial, ring, rabenseifner
    }

    public var network: Link
    public var sharedMemory: Link
    /// What summing a received buffer into one's own costs, bytes a second.
    public var reduceBytesPerSecond: Double
    /// nil: libnbc's own choice.
    public var algorithm: Algorithm?

    public init(network: Link, sharedMemory: Link, reduceBytesPerSecond: Double = 4e9, algorithm: Algorithm? = nil) {
        self.network = network
        self.sharedMemory = sharedMemory
        self.reduceBytesPerSecond = reduceBytesPerSecond
        self.algorithm = algorithm
    }

    /// OpenMPI 4.1's libnbc `MPI_Iallreduce` rule: the binomial tree below 4 ranks, below 64 kB or
    /// in place; Rabenseifner otherwise (for a commutative sum of at least as many elements as the
    /// largest power of two below the rank count).
    public static func libnbcChoice(ranks: Int, bytes: Int, inPlace: Bool) -> Algorithm {
        ranks < 4 || bytes < 65_536 || inPlace ? .binomial : .rabenseifner
    }

    /// Seconds for an all-reduce of `bytes` over `ranks`, `ranksPerHost` to a host.
    public func allReduceSeconds(bytes: Int, ranks p: Int, ranksPerHost m: Int, algorithm: Algorithm) -> Double {
        allReduceRounds(bytes: bytes, ranks: p, ranksPerHost: m, algorithm: algorithm).reduce(0, +)
    }

    /// The same, round by round: libnbc posts a round's messages only when the one before is done
    /// and the rank has entered MPI again (`step` waits for that between rounds).
    public func allReduceRounds(bytes: Int, ranks p: Int, ranksPerHost m: Int, algorithm: Algorithm) -> [Double] {
        guard p > 1 else { return [] }
        let n = Double(bytes)
        let hosts = (p + m - 1) / m
        let rounds = ceilLog2(p)
        let crossRounds = min(rounds, ceilLog2(hosts))
        let localRounds = rounds - crossRounds
        switch algorithm {
        case .binomial:
            // log2(p) rounds up the tree (receive, then add) and log2(p) down; the rounds whose
            // partners are 2^k >= m ranks apart cross hosts, one message per host link at a time.
            let add = n / reduceBytesPerSecond
            let up =
                Array(repeating: sharedMemory.seconds(n) + add, count: localRounds)
                + Array(repeating: network.seconds(n) + add, count: crossRounds)
            let down =
                Array(repeating: network.seconds(n), count: crossRounds)
                + Array(repeating: sharedMemory.seconds(n), count: localRounds)
            return up + down
        case .ring:
            // 2(p-1) steps of n/p bytes (the first p-1 added on arrival); every step waits for the
            // slowest edge, a host boundary.
            let link = hosts > 1 ? network : sharedMemory
            let step = link.seconds(n / Double(p))
            return Array(repeating: step + n / Double(p) / reduceBytesPerSecond, count: p - 1)
                + Array(repeating: step, count: p - 1)
        case .rabenseifner:
            // Recursive halving, then doubling: the first log2(hosts) rounds cross hosts, with all m
            // ranks of a host sending through its one link at once; the additions in the halving.
            let crossBytes = n * (1 - 1 / Double(hosts)) * Double(m)
            let localBytes = n / Double(hosts) * (1 - 1 / Double(m))
            let cross = Array(
                repeating: network.latency + crossBytes / Double(max(crossRounds, 1)) / network.bytesPerSecond,
                count: crossRounds)
            let local = Array(
                repeating: sharedMemory.latency + localBytes / Double(max(localRounds, 1)) / sharedMemory.bytesPerSecond,
                count: localRounds)
            let add = n * (1 - 1 / Double(p)) / reduceBytesPerSecond / Double(rounds)
            return (cross + local).map { $0 + add } + local + cross
        }
    }

    /// A blocking all-reduce of a small buffer: recursive doubling, log2(p) exchanges of all of it.
    func smallAllReduceSeconds(bytes: Int, ranks p: Int, ranksPerHost m: Int) -> Double {
        guard p > 1 else { return 0 }
        let hosts = (p + m - 1) / m
        let cross = min(ceilLog2(p), ceilLog2(hosts))
        return Double(cross) * network.seconds(Double(bytes))
            + Double(ceilLog2(p) - cross) * sharedMemory.seconds(Double(bytes))
    }

    /// The predicted step.
    public struct Step: Sendable {
        /// The whole step, seconds.
        public var seconds: Double
        /// Of it, waiting for gradient reductions after backward ended.
        public var exposedCommunication: Double
        /// Each bucket's all-reduce alone, seconds.
        public var bucketSeconds: [Double]
        /// Of `exposedCommunication`, backward standing still while a bucket waited for a request
        /// slot (plans of more than `maxPendingReductions` buckets).
        public var slotWaitSeconds = 0.0
    }

    /// One step of `trace`'s network on `ranks` ranks with the gradients cut by `plan`, every rank
    /// computing as the traced one did. `bytesPerValue` 2 for bfloat16 gradients.
    ///
    /// Every bucket starts when backward has finished it, whatever the others are doing: the
    /// trainer keeps up to `maxPendingReductions` in flight (a bucket beyond them waits for its slot,
    /// backward standing still), and each entry into MPI moves every one of them on. Buckets in
    /// flight at once share the link: a round pays its latency alone and its bytes at 1/k of the
    /// link while k rounds move bytes (processor sharing).
    public func step(
        _ trace: StepTrace, plan: GradientBucketPlan, ranks: Int, ranksPerHost: Int, bytesPerValue: Int = 4
    ) -> Step {
        let hosts = (ranks + ranksPerHost - 1) / ranksPerHost
        let latency = hosts > 1 ? network.latency : sharedMemory.latency
        var flights: [BucketFlight] = []
        var bucketSeconds: [Double] = []
        for bucket in plan.buckets {
            let rounds = allReduceRounds(
                bytes: bucket.count * bytesPerValue, ranks: ranks, ranksPerHost: ranksPerHost, algorithm: algorithm ?? .ring)
            bucketSeconds.append(rounds.reduce(0, +))
            guard !rounds.isEmpty else { continue }
            // A round's latency is its own; the rest (bytes over the link, the addition) is shared.
            flights.append(
                BucketFlight(
                    rounds: rounds.map { (latency: min(latency, $0), shared: $0 - min(latency, $0)) },
                    start: trace.progressMoment(atOrAfter: trace.readySeconds(of: bucket))))
        }
        let (finished, stalled) = Self.fly(&flights, trace: trace)
        let reduced = ranks > 1 ? max(trace.computeSeconds + stalled, finished) : trace.computeSeconds
        let tail =
            smallAllReduceSeconds(bytes: 32, ranks: ranks, ranksPerHost: ranksPerHost) + trace.updateSeconds
            + smallAllReduceSeconds(bytes: 4 * trace.statisticsCount, ranks: ranks, ranksPerHost: ranksPerHost)
        return Step(
            seconds: reduced + tail, exposedCommunication: reduced - trace.computeSeconds, bucketSeconds: bucketSeconds,
            slotWaitSeconds: ranks > 1 ? stalled : 0)
    }

    /// One bucket's all-reduce in the step: its rounds, where it is, and until when.
    struct BucketFlight {
        let rounds: [(latency: Double, shared: Double)]
        var round = 0
        var phase = Phase.waiting
        /// When the current waiting or latency phase ends.
        var until: Double
        /// Seconds of the link (alone) the current round still needs.
        var remaining = 0.0

        enum Phase { case waiting, queued, latency, sharing, done }

        init(rounds: [(latency: Double, shared: Double)], start: Double) {
            self.rounds = rounds
            until = start
        }
    }

    /// Runs the flights to their ends; returns when the rank last noticed one end (the first entry
    /// into MPI after it) and how long backward stood still. Each round begins at the first entry
    /// into MPI after the one before ended. The trainer has `slots` request slots: a bucket whose
    /// slot is still taken (index >= `slots`) waits, the rank blocked in MPI, for the bucket `slots`
    /// before it to end. Meanwhile backward stands still, so every later report comes later, and
    /// the rank, inside MPI, moves the other flights on at once.
    static func fly(
        _ flights: inout [BucketFlight], trace: StepTrace, slots: Int = maxPendingReductions
    ) -> (noticed: Double, stalled: Double) {
        var now = 0.0
        var noticed = 0.0
        var stalled = 0.0
        var blocked: (flight: Int, since: Double)?
        // The rank's first entry into MPI at or after `t`: at once while it is blocked in one.
        func entry(atOrAfter t: Double) -> Double {
            blocked != nil ? t : stalled + trace.progressMoment(atOrAfter: t - stalled)
        }
        // A bucket that backward has not reached: it cannot start while backward stands still.
        func unreached(_ f: BucketFlight) -> Bool { f.phase == .waiting && f.round == 0 && blocked != nil }
        while flights.contains(where: { $0.phase != .done }) {
            let sharing = flights.filter { $0.phase == .sharing }.count
            var next = Double.infinity
            for flight in flights where !unreached(flight) {
                switch flight.phase {
                case .waiting, .latency: next = min(next, flight.until)
                case .sharing: next = min(next, now + flight.remaining * Double(sharing))
                case .queued, .done: break
                }
            }
            for i in flights.indices where flights[i].phase == .sharing {
                // The round that sets `next` ends there exactly: subtracting would leave a rounding
                // residue, larger than any fixed tolerance once a round lasts hours (--gbit 1e-9 spun).
                if now + flights[i].remaining * Double(sharing) <= next {
                    flights[i].remaining = 0
                } else {
                    flights[i].remaining -= (next - now) / Double(sharing)
                }
            }
            now = next
            for i in flights.indices {
                var f = flights[i]
                switch f.phase {
                case .waiting where f.until <= now && !unreached(f):
                    if f.round == 0 && i >= slots && flights[i - slots].phase != .done {
                        f.phase = .queued
                        blocked = (i, now)
                        // Inside MPI from now on: rounds waiting for an entry go on at once.
                        for j in flights.indices where flights[j].phase == .waiting && flights[j].round > 0 {
                            flights[j].until = min(flights[j].until, now)
                        }
                    } else {
                        f.phase = .latency
                        f.until = now + f.rounds[f.round].latency
                    }
                case .latency where f.until <= now:
                    f.phase = .sharing
                    f.remaining = f.rounds[f.round].shared
                case .sharing where f.remaining <= 1e-12:
                    f.round += 1
                    if f.round < f.rounds.count {
                        f.phase = .waiting
                        f.until = entry(atOrAfter: now)
                        break
                    }
                    f.phase = .done
                    noticed = max(noticed, entry(atOrAfter: now))
                    if let (waiting, since) = blocked, waiting - slots == i {
                        // The slot is free: the waiting bucket starts and backward goes on.
                        blocked = nil
                        stalled += now - since
                        flights[waiting].phase = .latency
                        flights[waiting].until = now + flights[waiting].rounds[0].latency
                        for j in flights.indices where j > waiting && flights[j].phase == .waiting && flights[j].round == 0 {
                            flights[j].until += now - since
                        }
                    }
                default: break
                }
                flights[i] = f
            }
        }
        return (noticed, stalled)
    }
}

/// The least k with 2^k >= n (0 for n <= 1).
func ceilLog2(_ n: Int) -> Int {
    var k = 0
    while (1 << k) < n { k += 1 }
    return k
}
