/// A named tensor inside one of the store's contiguous buffers.
public struct TensorSpec: Sendable, Equatable {
    /// torchvision-style name, e.g. `layer1.0.conv1.weight`.
    public let name: String
    /// Shape, outermost first (conv weights [out, in, kh, kw], fc weights [out, in]).
    public let shape: [Int]
    /// Offset in floats from the start of its buffer.
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// Every trainable parameter, its gradient and its momentum, and every non-trainable buffer
/// (batch-norm running statistics), each kind in one contiguous float32 buffer allocated once.
/// Layers register tensors while the network is built and keep their offsets; the gradient
/// all-reduce is then one call over `gradients`, and a step allocates no tensor (see `Network`).
public final class ParameterStore {
    public private(set) var parameters: [TensorSpec] = []
    public private(set) var buffers: [TensorSpec] = []
    public private(set) var parameterCount = 0
    public private(set) var bufferCount = 0
    public private(set) var values: UnsafeMutablePointer<Float>
    public private(set) var gradients: UnsafeMutablePointer<Float>
    public private(set) var momentum: UnsafeMutablePointer<Float>
    public private(set) var bufferValues: UnsafeMutablePointer<Float>
    private var allocated = false

    public init() {
        values = .allocate(capacity: 1)
        gradients = .allocate(capacity: 1)
        momentum = .allocate(capacity: 1)
        bufferValues = .allocate(capacity: 1)
    }

    deinit {
        values.deallocate()
        gradients.deallocate()
        momentum.deallocate()
        bufferValues.deallocate()
    }

    /// Registers a trainable tensor; returns its offset in `values`, `gradients` and `momentum`.
    public func addParameter(_ name: String, shape: [Int]) -> Int {
        Self.register(name, shape: shape, in: &parameters, count: &parameterCount, allocated: allocated)
    }

    /// Registers a non-trainable tensor; returns its offset in `bufferValues`.
    public func addBuffer(_ name: String, shape: [Int]) -> Int {
        Self.register(name, shape: shape, in: &buffers, count: &bufferCount, allocated: allocated)
    }

    private static func register(
        _ name: String, shape: [Int], in specs: inout [TensorSpec], count: inout Int,
        allocated: Bool
    ) -> Int {
        precondition(!allocated, "tensors are registered before allocation")
        let spec = TensorSpec(name: name, shape: shape, offset: count)
        specs.append(spec)
        count += spec.count
        return spec.offset
    }

    /// Allocates the buffers, zero-filled. Called once, after every layer is registered.
    public func allocate() {
        precondition(!allocated)
        allocated = true
        for p in [values, gradients, momentum, bufferValues] { p.deallocate() }
        values = Self.zeros(parameterCount)
        gradients = Self.zeros(parameterCount)
        momentum = Self.zeros(parameterCount)
        bufferValues = Self.zeros(bufferCount)
    }

    private static func zeros(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
        return p
    }

    public var valueBuffer: UnsafeMutableBufferPointer<Float> { .init(start: values, count: parameterCount) }
    public var momentumBuffer: UnsafeMutableBufferPointer<Float> { .init(start: momentum, count: parameterCount) }
    /// Every non-trainable value (the batch-norm running statistics) as one buffer.
    public var runningStatistics: UnsafeMutableBufferPointer<Float> { .init(start: bufferValues, count: bufferCount) }

    /// The parameter or buffer spec with this name.
    public func spec(named name: String) -> (spec: TensorSpec, isParameter: Bool)? {
        if let p = parameters.first(where: { $0.name == name }) { return (p, true) }
        if let b = buffers.first(where: { $0.name == name }) { return (b, false) }
        return nil
    }
}

/// Activation storage for one batch size, one contiguous buffer: layers reserve their slices while
/// the network is built, and the buffer is allocated once.
public final class ActivationArena {
    public private(set) var count = 0
    public private(set) var base: UnsafeMutablePointer<Float>
    private var allocated = false

    public init() { base = .allocate(capacity: 1) }
    deinit { base.deallocate() }

    /// Reserves `count` floats; returns their offset.
    public func reserve(_ floats: Int) -> Int {
        precondition(!allocated)
        let offset = count
        count += (floats + 15) & ~15  // 64-byte aligned slices
        return offset
    }

    public func allocate() {
        precondition(!allocated)
        allocated = true
        base.deallocate()
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    @inline(__always) public subscript(offset: Int) -> UnsafeMutablePointer<Float> { base + offset }
}
