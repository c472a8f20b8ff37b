import Foundation

/// Prepares one rank's next batches on its own threads while the step runs: `depth` batches ahead,
/// each in its own buffer (so memory stays at `depth` batches), the images of a batch shared out
/// one at a time to `threads` decode threads. The bits are those of filling in place: every view is
/// a function of (seed, epoch, position), whichever thread makes it.
final class BatchPrefetcher: @unchecked Sendable {
    let source: any BatchSource
    let rank: Int
    let worldSize: Int
    let depth: Int

    private final class Slot {
        let images: UnsafeMutablePointer<Float>
        let labels: UnsafeMutablePointer<Int32>
        var iteration = -1
        var local = 0
        var global = 0
        var pending = 0
        var error: Error?
        init(inputs: Int, floats: Int) {
            images = .allocate(capacity: max(1, inputs * floats))
            labels = .allocate(capacity: max(1, inputs))
        }
        deinit {
            images.deallocate()
            labels.deallocate()
        }
    }

    /// One image of one scheduled batch.
    private struct Task {
        let slot: Slot
        let epoch: Int
        let order: [Int32]
        let position: Int
        let index: Int
    }

    private let slots: [Slot]
    private var tasks: [Task] = []
    private var nextTask = 0
    private var stopping = false
    private var running = 0
    private let condition = NSCondition()
    private var orders: [Int: [Int32]] = [:]

    init(source: any BatchSource, rank: Int, worldSize: Int, capacity: Int, threads: Int, depth: Int = 2) {
        self.source = source
        self.rank = rank
        self.worldSize = worldSize
        self.depth = depth
        slots = (0..<depth).map { _ in Slot(inputs: capacity * source.viewsPerImage, floats: source.inputFloats) }
        running = threads
        for _ in 0..<threads {
            // Unowned without checks: deinit waits for every worker to leave before the memory goes.
            let thread = Thread { [unowned(unsafe) self] in work() }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    /// Copies this rank's share of `iteration` into `images` and `labels` (waiting for it if it is
    /// not ready), then starts on `iteration + depth`. Returns (this rank's images, the global batch's).
    func take(
        iteration: Int, images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>
    ) throws -> (local: Int, global: Int) {
        condition.lock()
        defer { condition.unlock() }
        for ahead in iteration..<iteration + depth { schedule(ahead) }
        let slot = slots[iteration % depth]
        while slot.pending > 0 { condition.wait() }
        if let error = slot.error {
            slot.iteration = -1
            throw error
        }
        let inputs = slot.local * source.viewsPerImage
        images.update(from: slot.images, count: inputs * source.inputFloats)
        labels.update(from: slot.labels, count: inputs)
        let result = (slot.local, slot.global)
        slot.iteration = -1
        schedule(iteration + depth)
        return result
    }

    /// Queues the images of `iteration` into its slot, unless they are there or on their way.
    /// Called with the lock held.
    private func schedule(_ iteration: Int) {
        let slot = slots[iteration % depth]
        guard slot.iteration != iteration else { return }
        while slot.pending > 0 { condition.wait() }  // a batch nobody will take (after a jump)
        let perEpoch = source.batchesPerEpoch
        let epoch = iteration / perEpoch
        if orders[epoch] == nil {
            orders[epoch] = source.permutation(epoch: epoch)
            orders = orders.filter { $0.key >= epoch - 1 }
        }
        let (global, local) = source.shard(batch: iteration % perEpoch, rank: rank, worldSize: worldSize)
        slot.iteration = iteration
        slot.local = local.count
        slot.global = global.count
        slot.error = nil
        slot.pending = local.count
        if nextTask == tasks.count {
            tasks.removeAll(keepingCapacity: true)
            nextTask = 0
        }
        for (index, position) in local.enumerated() {
            tasks.append(Task(slot: slot, epoch: epoch, order: orders[epoch]!, position: position, index: index))
        }
        condition.broadcast()
    }

    private func work() {
        let views = source.viewsPerImage
        let floats = source.inputFloats
        condition.lock()
        while true {
            while nextTask == tasks.count && !stopping { condition.wait() }
            if stopping { break }
            let task = tasks[nextTask]
            nextTask += 1
            condition.unlock()
            var failure: Error?
            do {
                _ = try source.fill(
                    epoch: task.epoch, order: task.order, positions: task.position..<task.position + 1,
                    images: task.slot.images + task.index * views * floats,
                    labels: task.slot.labels + task.index * views)
            } catch {
                failure = error
            }
            condition.lock()
            if let failure, task.slot.error == nil { task.slot.error = failure }
            task.slot.pending -= 1
            if task.slot.pending == 0 { condition.broadcast() }
        }
        running -= 1
        condition.broadcast()
        condition.unlock()
    }
}
