/// When the training loop logs, evaluates and checkpoints: after which completed iteration.
struct RunEvents {
    /// The last iteration this process runs, and the schedule's last.
    let stop: Int, total: Int
    let logEvery: Int
    /// nil: no test set.
    let evalEvery: Int?
    let checkpointEvery: Int
    let writesCheckpoints: Bool

    func log(after iteration: Int) -> Bool { iteration % logEvery == 0 || iteration == stop }

    func evaluate(after iteration: Int) -> Bool {
        guard let evalEvery else { return false }
        return iteration % evalEvery == 0 || iteration == total
    }

    func checkpoint(after iteration: Int) -> Bool {
        writesCheckpoints && (iteration == stop || iteration % checkpointEvery == 0)
    }
}
