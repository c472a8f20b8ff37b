/// Images `range` of a data set in their stored order, cut into batches of `batch`: a test pass
/// as a `BatchSource`, so that `BatchPrefetcher` can decode its next batches while the network
/// runs the current one. One epoch; no augmentation beyond what `source` does to a test image.
struct TestSetSlice: BatchSource {
    let source: any BatchSource
    let range: Range<Int>
    let globalBatch: Int
    private let storedOrder: [Int32]

    init(_ source: any BatchSource, range: Range<Int>, batch: Int) {
        self.source = source
        self.range = range
        globalBatch = batch
        storedOrder = (0..<Int32(source.count)).map { $0 }
    }

    var count: Int { range.count }
    var seed: UInt64 { source.seed }
    var viewsPerImage: Int { source.viewsPerImage }
    var inputFloats: Int { source.inputFloats }
    var classNames: [String]? { source.classNames }

    func permutation(epoch: Int) -> [Int32] { (0..<Int32(range.count)).map { $0 } }

    /// `order` is this slice's own (the identity): position p is image `range.lowerBound + p`.
    func fill(
        epoch: Int, order: [Int32], positions: Range<Int>,
        images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>
    ) throws -> Int {
        try source.fill(
            epoch: 0, order: storedOrder,
            positions: range.lowerBound + positions.lowerBound..<range.lowerBound + positions.upperBound,
            images: images, labels: labels)
    }
}
