import Foundation

extension Network {
    /// Refuses, before anything is allocated, a batch whose training activations alone exceed this
    /// machine's memory: `--batch-size 100000000` asked for 171 TB and aborted in the allocator with
    /// a backtrace. `what` names the flag that set `images` (e.g. "--batch-size 100000000 on 1 rank").
    /// The bound is the activations of one image (a one-image network's arena) times `images`,
    /// against the physical memory; ranks sharing a node can still run out together.
    public static func requireMemory(for architecture: Architecture, images: Int, what: String) throws {
        let physical = ProcessInfo.processInfo.physicalMemory
        let perImage = Network(architecture, batchCapacity: 1).activationBytesPerImage
        let (needed, overflow) = perImage.multipliedReportingOverflow(by: images)
        guard overflow || UInt64(needed) > physical else { return }
        let neededText = overflow ? "more than \(Int.max.formatted()) bytes" : Self.gibibytes(UInt64(needed))
        throw ResNetError(
            .usage,
            "\(what): \(images.formatted()) images a rank need \(neededText) of activations for \(architecture.name) (\(String(format: "%.1f", Double(perImage) / 1_048_576)) MiB an image); this machine has \(Self.gibibytes(physical))"
        )
    }

    private static func gibibytes(_ bytes: UInt64) -> String {
        let value = Double(bytes) / 1_073_741_824
        return value < 100 ? String(format: "%.1f GiB", value) : "\(Int(value.rounded()).formatted()) GiB"
    }
}
