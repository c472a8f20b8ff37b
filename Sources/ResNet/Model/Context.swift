import Kernels

/// What every layer of one network shares while it runs: parameters, activations, scratch and
/// thread count.
public final class NetworkContext {
    public let store: ParameterStore
    public let arena: ActivationArena
    /// Largest batch the activations were allocated for.
    public let batchCapacity: Int
    /// Threads for the convolutions (images are split between them).
    public let threads: Int
    /// When set, layers record their time here.
    public var profile: StepProfile?
    /// Convolution workspace, sized by the largest layer.
    var workspace: UnsafeMutablePointer<Float>
    var workspaceCount = 0
    /// Batch-norm scratch (doubles), sized by the widest layer.
    var statistics: UnsafeMutablePointer<Double>
    var statisticsCount = 0

    /// The convolution algorithm every layer uses: nil picks Winograd wherever it applies.
    public let convolution: Convolution.Algorithm?
    /// Ghost batch norm: training normalises over groups of this many images of a rank's batch,
    /// as that many ranks of this many images each would (nil: over the rank's whole batch).
    public let batchNormGroup: Int?

    init(batchCapacity: Int, threads: Int, convolution: Convolution.Algorithm? = nil, batchNormGroup: Int? = nil) {
        self.batchNormGroup = batchNormGroup
        store = ParameterStore()
        arena = ActivationArena()
        self.batchCapacity = batchCapacity
        self.threads = max(1, threads)
        self.convolution = convolution
        workspace = .allocate(capacity: 1)
        statistics = .allocate(capacity: 1)
    }

    deinit {
        workspace.deallocate()
        statistics.deallocate()
    }

    func requireWorkspace(_ floats: Int) { workspaceCount = max(workspaceCount, floats) }
    func requireStatistics(_ doubles: Int) { statisticsCount = max(statisticsCount, doubles) }

    /// Allocates parameters, activations and scratch once every layer is registered.
    func allocate() {
        store.allocate()
        arena.allocate()
        workspace.deallocate()
        workspace = .allocate(capacity: max(workspaceCount, 1))
        workspace.initialize(repeating: 0, count: max(workspaceCount, 1))
        statistics.deallocate()
        statistics = .allocate(capacity: max(statisticsCount, 1))
        statistics.initialize(repeating: 0, count: max(statisticsCount, 1))
    }

    @inline(__always) func parameter(_ offset: Int) -> UnsafeMutablePointer<Float> { store.values + offset }
    @inline(__always) func gradient(_ offset: Int) -> UnsafeMutablePointer<Float> { store.gradients + offset }
    @inline(__always) func buffer(_ offset: Int) -> UnsafeMutablePointer<Float> { store.bufferValues + offset }
}
