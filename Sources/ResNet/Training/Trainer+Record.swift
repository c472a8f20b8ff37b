import Distributed
import Foundation

extension Trainer {
    /// The run's configuration as the coordinator writes it to `run-config.json`: the effective
    /// settings (every flag after defaults), world size and hosts, and what the caller adds.
    func configurationJSON(startIteration: Int, hosts: [String]) throws -> String {
        var fields: [(String, String)] = config.runRecord.map { ($0.key, JSON.quoted($0.value)) }
        func add(_ key: String, _ value: Any?) {
            switch value {
            case nil: fields.append((key, "null"))
            case let text as String: fields.append((key, JSON.quoted(text)))
            case let number as Double: fields.append((key, number.isFinite ? String(number) : "null"))
            case let some?: fields.append((key, "\(some)"))
            }
        }
        add("arch", config.architecture.description)
        add("world_size", communicator.size)
        add("threads_per_rank", config.threads)
        add("global_batch", config.globalBatch)
        add("seed", "\(config.seed)")
        add("zero_init_residual", config.zeroInitResidual)
        add("sync_bn", config.syncBatchNorm)
        add("bn_group", config.batchNormGroup)
        add("allreduce_precision", config.bfloat16Gradients ? "bf16" : "fp32")
        add("augment", config.augment)
        add("drop_last", config.dropLast)
        add("padding", config.padding.rawValue)
        fields.append(("schedule", try JSON.encoded(config.schedule)))
        fields.append(("optimizer", try JSON.encoded(config.optimizer)))
        add("label_smoothing", config.labelSmoothing)
        add("training_images", batches.source.count)
        add("batches_per_epoch", batches.batchesPerEpoch)
        add("eval_every", config.evalEvery ?? batches.batchesPerEpoch)
        add("log_every", config.logEvery)
        add("checkpoint_every", config.checkpointEvery ?? batches.batchesPerEpoch)
        add("keep_checkpoints", config.keepCheckpoints)
        add("max_loss", config.divergenceLoss)
        add("init_from", config.initFrom)
        add("stop_after", config.stopAfter)
        add("start_iteration", startIteration)
        fields.append(("hosts", "[" + hosts.map(JSON.quoted).joined(separator: ",") + "]"))
        return "{\n" + fields.sorted { $0.0 < $1.0 }.map { "  \(JSON.quoted($0.0)): \($0.1)" }.joined(separator: ",\n")
            + "\n}\n"
    }

    /// Every rank's host name, in rank order (64 bytes each).
    func gatherHostnames() throws -> [String] {
        let width = 8  // Int64 words of 8 bytes: 64 bytes per rank
        var words = [Int64](repeating: 0, count: communicator.size * width)
        var name = Array(ProcessInfo.processInfo.hostName.utf8.prefix(width * 8 - 1))
        name += [UInt8](repeating: 0, count: width * 8 - name.count)
        name.withUnsafeBytes { raw in
            for w in 0..<width {
                words[communicator.rank * width + w] = raw.loadUnaligned(fromByteOffset: w * 8, as: Int64.self)
            }
        }
        try words.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
        return (0..<communicator.size).map { rank in
            let bytes = words[(rank * width)..<((rank + 1) * width)].withUnsafeBytes { Array($0) }
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
