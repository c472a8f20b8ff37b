import ArgumentParser
import Foundation
import Kernels
import ResNet

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Layers, parameters, multiply-adds and activation memory of a network.")

    @OptionGroup var model: ModelOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        if model.arch.lowercased().hasPrefix("vgg") { return try vgg() }
        let architecture = try model.architecture()
        let network = Network(architecture, batchCapacity: 1)
        let params = network.parameterCount
        let macs = network.macsPerImage
        let activation = network.activationBytesPerImage
        if json {
            printJSON(
                [
                    "arch": architecture.name, "shortcut": architecture.shortcut.rawValue, "depth": architecture.depth,
                    "weighted_layers": network.weightedLayers, "parameters": params, "macs": macs,
                    "blocks_per_stage": architecture.stageBlocks,
                    "activation_bytes_per_image": activation, "tensors": network.store.parameters.count,
                ].merging(InstructionSet.fields) { a, _ in a })
        } else {
            let stages = architecture.stageBlocks.map(String.init).joined(separator: ", ")
            print("\(architecture): \(network.weightedLayers) weighted layers (basic blocks per stage: \(stages))")
            print("  parameters:               \(params.formatted())")
            print("  multiply-adds per image:  \(macs.formatted()) (\(String(format: "%.2f", Double(macs) / 1e6)) M)")
            print(
                "  activation memory/image:  \(String(format: "%.2f", Double(activation) / 1_048_576)) MiB (training)")
            print("  kernels:                  \(InstructionSet.summary)")
        }
    }

    /// VGG-19 (`vgg19`, or `vgg19_bn` with batch norm): counts only, it has no CIFAR form.
    func vgg() throws {
        let name = model.arch.lowercased().replacingOccurrences(of: "-", with: "_")
        guard name == "vgg19" || name == "vgg19_bn" else {
            throw ResNetError(.architecture, "unknown architecture '\(model.arch)' (VGG: vgg19 or vgg19_bn)")
        }
        let network = VGG(batchNorm: name == "vgg19_bn", batchCapacity: 1)
        if json {
            printJSON([
                "arch": name, "weighted_layers": 19, "parameters": network.parameterCount, "macs": network.macsPerImage,
            ])
        } else {
            print("\(name): 19 weighted layers (16 conv + 3 fc), 224x224 inputs")
            print("  parameters:               \(network.parameterCount.formatted())")
            print(
                "  multiply-adds per image:  \(network.macsPerImage.formatted()) (\(String(format: "%.2f", Double(network.macsPerImage) / 1e9)) G)"
            )
        }
    }
}
