/// One record of a run's metrics, as every sink receives it: a logged window of training or an
/// evaluation, its values named as metrics.jsonl names them.
public struct MetricRecord {
    public enum Kind: String { case train, eval }
    public let kind: Kind
    public let iteration: Int
    /// In the order metrics.jsonl writes them.
    public let values: KeyValuePairs<String, Double>

    public init(_ kind: Kind, iteration: Int, _ values: KeyValuePairs<String, Double>) {
        self.kind = kind
        self.iteration = iteration
        self.values = values
    }
}

/// Where metric records go (metrics.jsonl, metrics.csv, TensorBoard). A sink that cannot write
/// throws, leaving its file as it was.
public protocol MetricSink: AnyObject {
    func write(_ record: MetricRecord) throws
}
