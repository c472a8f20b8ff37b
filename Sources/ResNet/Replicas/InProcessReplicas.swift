import Distributed
import Foundation
import Logging

/// N replicas on N threads of this process, joined by a `ThreadGroup`: the whole data-parallel
/// path (broadcast, sharding, all-reduce, sync BN) without a launcher.
public enum InProcessReplicas {
    /// Trains `replicas` replicas to the end; returns every rank's trainer and result, in rank
    /// order, or throws the first error.
    public static func run(
        replicas: Int, config: TrainingConfiguration, train: any BatchSource, test: (any BatchSource)?,
        normalization: Normalization, logger: Logger
    ) throws -> [(trainer: Trainer, result: TrainingResult)] {
        let group = ThreadGroup(size: replicas)
        let finished = Locked<[Int: (Trainer, TrainingResult)]>([:])
        let failures = Locked<[Int: String]>([:])
        let rootCauses = Locked<[Int: Error]>([:])
        let threads = (0..<replicas).map { rank in
            Thread {
                do {
                    let trainer = try Trainer(
                        config: config, communicator: group.communicator(rank: rank), train: train,
                        test: test, normalization: normalization, logger: logger, quiet: rank != 0)
                    let result = try trainer.run()
                    finished.update { $0[rank] = (trainer, result) }
                } catch {
                    group.fail()
                    // The rank that failed first is the root cause; the others see "a replica aborted".
                    if !(error is CommunicatorError) { rootCauses.update { $0[rank] = error } }
                    failures.update { $0[rank] = String(describing: error) }
                }
            }
        }
        for t in threads {
            t.stackSize = 8 << 20
            t.start()
        }
        while finished.value.count + failures.value.count < replicas { usleep(1000) }
        if let cause = rootCauses.value.sorted(by: { $0.key < $1.key }).first?.value { throw cause }
        if let failure = failures.value.sorted(by: { $0.key < $1.key }).first?.value {
            throw CommunicatorError(failure)
        }
        let all = finished.value
        return (0..<replicas).map { (trainer: all[$0]!.0, result: all[$0]!.1) }
    }

    /// `run` on CIFAR-10 in memory.
    public static func run(
        replicas: Int, config: TrainingConfiguration, train: LabeledImages, test: LabeledImages?,
        normalization: Normalization, logger: Logger
    ) throws -> [(trainer: Trainer, result: TrainingResult)] {
        let (trainSource, testSource) = Trainer.sources(
            config: config, worldSize: replicas, train: train, test: test, normalization: normalization)
        return try run(
            replicas: replicas, config: config, train: trainSource, test: testSource, normalization: normalization,
            logger: logger)
    }

    /// Rank 0's result of `run` on CIFAR-10 in memory.
    public static func train(
        replicas: Int, config: TrainingConfiguration, train: LabeledImages, test: LabeledImages?,
        normalization: Normalization, logger: Logger
    ) throws -> TrainingResult {
        try run(
            replicas: replicas, config: config, train: train, test: test, normalization: normalization, logger: logger)[
                0
            ].result
    }

    /// Rank 0's result of `run`.
    public static func train(
        replicas: Int, config: TrainingConfiguration, train: any BatchSource, test: (any BatchSource)?,
        normalization: Normalization, logger: Logger
    ) throws -> TrainingResult {
        try run(
            replicas: replicas, config: config, train: train, test: test, normalization: normalization, logger: logger)[
                0
            ].result
    }
}

/// A value guarded by a lock.
final class Locked<T>: @unchecked Sendable {
    private var inner: T
    private let lock = NSLock()
    init(_ value: T) { inner = value }
    var value: T {
        lock.lock()
        defer { lock.unlock() }
        return inner
    }
    func update(_ body: (inout T) -> Void) {
        lock.lock()
        body(&inner)
        lock.unlock()
    }
}
