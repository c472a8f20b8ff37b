import ArgumentParser
import ResNet

/// Which network: `--arch`, `--depth`, `--shortcut`.
struct ModelOptions: ParsableArguments {
    @Option(help: "resnetN or plainN with N = 6n+2 (20, 32, 44, 56, 110, 1202), or resnet/plain with --depth.")
    var arch = "resnet20"

    @Option(help: "Depth 6n+2 (overrides the number in --arch when that has none). (default: the depth in --arch)")
    var depth: Int?

    @Option(
        help:
            "Shortcut where the shape changes: A (zero-padded identity, the paper's CIFAR choice) or B (1x1 projection). (default: A for the CIFAR networks; B for resnet18/34 as torchvision builds them, A with --recipe paper-imagenet as in the paper's Figure 4)"
    )
    var shortcut: ShortcutOption?

    /// A network the paper does not have is a bad flag (status 64), found before anything runs.
    func validate() throws {
        do { _ = try architecture() } catch let error as ResNetError { throw ValidationError(error.description) }
    }

    /// The network the flags name; `defaultShortcut` stands in for a `--shortcut` not given
    /// (nil: the family's own default).
    func architecture(defaultShortcut: ShortcutOption? = nil) throws -> Architecture {
        try Architecture.parse(arch, depth: depth, shortcut: shortcut ?? defaultShortcut)
    }
}

extension ShortcutOption: ExpressibleByArgument {}
