/// A bad model description from the user.
public struct ArchitectureError: Error, CustomStringConvertible {
    public let description: String
}

/// Which CIFAR network: the paper's ResNets and their plain counterparts, depth 6n+2
/// (n basic blocks per stage, 2 layers each, plus the first conv and the fc).
public struct Architecture: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Family: String, Sendable, Codable { case resnet, plain }

    public let family: Family
    public let depth: Int
    public let shortcut: ShortcutOption
    public let classes: Int

    public init(family: Family, depth: Int, shortcut: ShortcutOption = .A, classes: Int = 10) throws {
        guard depth >= 8, (depth - 2) % 6 == 0 else {
            throw ArchitectureError(description: "depth \(depth) is not 6n+2 with n >= 1 (20, 32, 44, 56, 110, 1202, ...)")
        }
        self.family = family
        self.depth = depth
        self.shortcut = shortcut
        self.classes = classes
    }

    /// Parses `resnet20`, `plain56`, or a bare family (`resnet`, `plain`) with `depth`.
    /// A depth given both ways must agree.
    public static func parse(_ name: String, depth: Int? = nil, shortcut: ShortcutOption = .A) throws -> Architecture {
        let lower = name.lowercased()
        guard let family = [Family.resnet, .plain].first(where: { lower.hasPrefix($0.rawValue) }) else {
            throw ArchitectureError(description: "unknown architecture '\(name)' (expected resnetN or plainN, N = 6n+2)")
        }
        let digits = lower.dropFirst(family.rawValue.count).filter { $0 != "-" && $0 != "_" }
        var d = depth
        if !digits.isEmpty {
            guard let parsed = Int(digits) else {
                throw ArchitectureError(description: "unknown architecture '\(name)' (expected resnetN or plainN, N = 6n+2)")
            }
            if let depth, depth != parsed {
                throw ArchitectureError(description: "--arch \(name) and --depth \(depth) disagree")
            }
            d = parsed
        }
        guard let d else { throw ArchitectureError(description: "--arch \(name) needs a depth (e.g. \(name)20 or --depth 20)") }
        return try Architecture(family: family, depth: d, shortcut: shortcut)
    }

    /// Basic blocks per stage.
    public var blocksPerStage: Int { (depth - 2) / 6 }
    public var isResidual: Bool { family == .resnet }
    /// `resnet20`, `plain56`.
    public var name: String { "\(family.rawValue)\(depth)" }
    public var description: String { isResidual ? "\(name)/\(shortcut.rawValue)" : name }
}
