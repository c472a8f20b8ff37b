/// Which network: the paper's CIFAR ResNets and plain nets, depth 6n+2 (n basic blocks per
/// stage, 2 layers each, plus the first conv and the fc), or its ImageNet ResNet-18/34 and
/// plain-18/34 (Table 1: 7x7/2 conv, 3x3/2 max pool, four stages of basic blocks). Where the shape
/// changes, the CIFAR networks take option A by default and the ImageNet ones option B (1x1
/// projections, as torchvision builds them); option A on ImageNet is Figure 4's comparison.
public struct Architecture: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Family: String, Sendable, Codable { case resnet, plain }

    public let family: Family
    public let depth: Int
    public let shortcut: ShortcutOption
    public let classes: Int

    /// The deepest CIFAR network built: about 8 times the paper's 1202. `--depth
    /// 600002` asked the allocator for 39 GB of parameters and aborted with a backtrace.
    public static let maxDepth = 9_998

    /// ImageNet depths and their blocks per stage (paper, Table 1).
    static let imageNetBlocks: [Int: [Int]] = [18: [2, 2, 2, 2], 34: [3, 4, 6, 3]]

    /// `shortcut` nil: option A for the CIFAR networks, B for the ImageNet ones.
    public init(family: Family, depth: Int, shortcut: ShortcutOption? = nil, classes: Int? = nil) throws {
        if Self.imageNetBlocks[depth] != nil {
            self.family = family
            self.depth = depth
            self.shortcut = shortcut ?? .B
            self.classes = classes ?? 1000
            return
        }
        guard depth >= 8, (depth - 2) % 6 == 0 else {
            throw ResNetError(
                .architecture,
                "depth \(depth) is not 6n+2 with n >= 1 (20, 32, 44, 56, 110, 1202, ...) nor an ImageNet depth (18, 34)"
            )
        }
        guard depth <= Self.maxDepth else {
            throw ResNetError(
                .architecture,
                "depth \(depth) is deeper than this trainer builds (at most \(Self.maxDepth.formatted()) layers; the paper's deepest is 1202)"
            )
        }
        self.family = family
        self.depth = depth
        self.shortcut = shortcut ?? .A
        self.classes = classes ?? 10
    }

    /// The same network with a `classes`-way classifier (a data set's own classes).
    public func with(classes: Int) throws -> Architecture {
        guard classes >= 2 else {
            throw ResNetError(.architecture, "a classifier needs at least 2 classes, the data have \(classes)")
        }
        return try Architecture(family: family, depth: depth, shortcut: shortcut, classes: classes)
    }

    /// True for the ImageNet networks (224x224 inputs).
    public var isImageNet: Bool { Self.imageNetBlocks[depth] != nil }
    /// Input images are `inputSize` x `inputSize` x 3.
    public var inputSize: Int { isImageNet ? 224 : 32 }
    /// Basic blocks in each stage.
    public var stageBlocks: [Int] { Self.imageNetBlocks[depth] ?? Array(repeating: blocksPerStage, count: 3) }
    /// Filters in each stage.
    public var stageWidths: [Int] { isImageNet ? [64, 128, 256, 512] : [16, 32, 64] }
    /// The first layer: its kernel, stride and width, and whether a 3x3/2 max pool follows.
    public var stem: (kernel: Int, stride: Int, width: Int, maxPool: Bool) {
        isImageNet ? (7, 2, 64, true) : (3, 1, 16, false)
    }

    /// Parses `resnet20`, `plain56`, or a bare family (`resnet`, `plain`) with `depth`.
    /// A depth given both ways must agree. `shortcut` nil: the family's default (A on CIFAR, B on ImageNet).
    public static func parse(_ name: String, depth: Int? = nil, shortcut: ShortcutOption? = nil) throws -> Architecture {
        let lower = name.lowercased()
        guard let family = [Family.resnet, .plain].first(where: { lower.hasPrefix($0.rawValue) }) else {
            throw unknown(name)
        }
        let digits = lower.dropFirst(family.rawValue.count).filter { $0 != "-" && $0 != "_" }
        var d = depth
        if !digits.isEmpty {
            guard let parsed = Int(digits) else {
                throw unknown(name)
            }
            if let depth, depth != parsed {
                throw ResNetError(.architecture, "--arch \(name) and --depth \(depth) disagree")
            }
            d = parsed
        }
        guard let d else {
            throw ResNetError(.architecture, "--arch \(name) needs a depth (e.g. \(name)20 or --depth 20)")
        }
        return try Architecture(family: family, depth: d, shortcut: shortcut)
    }

    /// The error for a name that is not a ResNet or plain net, naming the depths each data set takes.
    private static func unknown(_ name: String) -> ResNetError {
        ResNetError(
            .architecture,
            "unknown architecture '\(name)' (expected resnetN or plainN: N = 6n+2 on CIFAR-10, 18 or 34 on image folders; vgg19 for info only)"
        )
    }

    /// Basic blocks per stage (CIFAR networks).
    public var blocksPerStage: Int { (depth - 2) / 6 }
    public var isResidual: Bool { family == .resnet }
    /// `resnet20`, `plain56`.
    public var name: String { "\(family.rawValue)\(depth)" }
    public var description: String { isResidual ? "\(name)/\(shortcut.rawValue)" : name }
}
