/// Every error of the ResNet library: one line for the user (it names the flag, file or key at
/// fault) and a kind for code that must tell errors apart. Never branch on the text.
public struct ResNetError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable, CaseIterable {
        /// A flag that does not fit what the command found (e.g. a subset larger than the data):
        /// reported like a flag error.
        case usage
        /// A model description that names no network of the paper.
        case architecture
        /// Settings that do not fit together, or a value out of range.
        case configuration
        /// A data, metrics or configuration file that is missing or malformed.
        case data
        /// A checkpoint that does not read or verify (cut short, corrupt, impossible values).
        case damagedCheckpoint
        /// A sound checkpoint of another model or run (architecture, batch, seed, schedule).
        case mismatchedCheckpoint
        /// A file or directory that cannot be written.
        case fileSystem
        /// A failure injected on purpose (`--inject-failure`, for fault-handling tests).
        case injectedFailure
        /// The loss became non-finite or exceeded its bound.
        case diverged
    }

    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

extension ResNetError.Kind {
    /// A number for the kind that crosses ranks in an all-reduce (0 is no error): 1 + its place in `allCases`.
    public var code: Int64 { Int64(Self.allCases.firstIndex(of: self)! + 1) }

    /// The kind whose `code` this is; nil for 0 or a number no kind has.
    public init?(code: Int64) {
        guard code >= 1 && code <= Int64(Self.allCases.count) else { return nil }
        self = Self.allCases[Int(code - 1)]
    }
}
