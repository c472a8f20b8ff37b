import ArgumentParser
import Foundation
import ResNet

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Layers, parameters, multiply-adds and activation memory of a network.")

    @OptionGroup var model: ModelOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let architecture: Architecture
        do { architecture = try model.architecture() } catch { fail(error) }
        let network = Network(architecture, batchCapacity: 1)
        let params = network.parameterCount, macs = network.macsPerImage
        let activation = network.activationBytesPerImage
        if json {
            printJSON(["arch": architecture.name, "shortcut": architecture.shortcut.rawValue, "depth": architecture.depth,
                       "weighted_layers": network.weightedLayers, "parameters": params, "macs": macs,
                       "activation_bytes_per_image": activation, "tensors": network.store.parameters.count])
        } else {
            print("\(architecture): \(network.weightedLayers) weighted layers (\(architecture.blocksPerStage) blocks per stage)")
            print("  parameters:               \(params.formatted())")
            print("  multiply-adds per image:  \(macs.formatted()) (\(String(format: "%.2f", Double(macs) / 1e6)) M)")
            print("  activation memory/image:  \(String(format: "%.2f", Double(activation) / 1_048_576)) MiB (training)")
        }
    }
}
