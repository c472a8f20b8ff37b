/// Winograd on odd planes (ResNet-18/34's last stage works on 7x7): the layer runs as the same
/// convolution on the plane grown by a zero row and column to even sides (8x8), and the extra row and
/// column of its result are dropped. This is exact, not an approximation: with padding 1, the output
/// at the last row reads the zero just past the plane either way; the extra outputs' gradients are
/// zero, so they add nothing to the input or weight gradients.
extension Convolution {
    /// The convolution on the even-sided plane that runs this odd-plane Winograd layer; nil otherwise.
    var evenPlane: Convolution? {
        guard algorithm == .winograd, inHeight % 2 != 0 || inWidth % 2 != 0 else { return nil }
        return Convolution(
            inChannels: inChannels, outChannels: outChannels, kernelSize: 3, stride: 1, padding: 1,
            inHeight: inHeight + inHeight % 2, inWidth: inWidth + inWidth % 2, algorithm: .winograd)
    }

    /// Workspace of the even-plane passes: the even layer's own, then the grown input and output planes.
    func evenPlaneWorkspaceCount(_ even: Convolution, threads: Int, batch: Int) -> Int {
        even.workspaceCount(threads: threads, batch: batch) + batch * (even.inputSize + even.outputSize)
    }

    func forwardOnEvenPlane(
        _ even: Convolution, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, batch: Int, threads: Int, workspace: UnsafeMutablePointer<Float>
    ) {
        let (x, y, rest) = evenPlanes(even, batch: batch, workspace: workspace)
        grow(input, planes: batch * inChannels, into: x, even)
        even.forward(input: x, weight: weight, output: y, batch: batch, threads: threads, workspace: rest)
        crop(y, planes: batch * outChannels, into: output, accumulate: false, even)
    }

    func backwardDataOnEvenPlane(
        _ even: Convolution, outputGrad: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        inputGrad: UnsafeMutablePointer<Float>, batch: Int, accumulate: Bool, threads: Int,
        workspace: UnsafeMutablePointer<Float>
    ) {
        let (dx, dy, rest) = evenPlanes(even, batch: batch, workspace: workspace)
        grow(outputGrad, planes: batch * outChannels, into: dy, even)
        even.backwardData(
            outputGrad: dy, weight: weight, inputGrad: dx, batch: batch, accumulate: false, threads: threads,
            workspace: rest)
        crop(dx, planes: batch * inChannels, into: inputGrad, accumulate: accumulate, even)
    }

    func backwardWeightsOnEvenPlane(
        _ even: Convolution, input: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>,
        weightGrad: UnsafeMutablePointer<Float>, batch: Int, threads: Int, workspace: UnsafeMutablePointer<Float>
    ) {
        let (x, dy, rest) = evenPlanes(even, batch: batch, workspace: workspace)
        grow(input, planes: batch * inChannels, into: x, even)
        grow(outputGrad, planes: batch * outChannels, into: dy, even)
        even.backwardWeights(
            input: x, outputGrad: dy, weightGrad: weightGrad, batch: batch, threads: threads, workspace: rest)
    }

    /// The grown input-side planes, the grown output-side planes, and the even layer's own workspace.
    private func evenPlanes(_ even: Convolution, batch: Int, workspace: UnsafeMutablePointer<Float>)
        -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)
    {
        let inputSide = workspace
        let outputSide = inputSide + batch * even.inputSize
        return (inputSide, outputSide, outputSide + batch * even.outputSize)
    }

    /// Copies `planes` planes of this layer's size into `even`'s, zeros in the extra row and column.
    private func grow(_ source: UnsafePointer<Float>, planes: Int, into grown: UnsafeMutablePointer<Float>, _ even: Convolution) {
        let (h, w, ew) = (inHeight, inWidth, even.inWidth)
        let evenPlaneSize = even.inHeight * ew
        for p in 0..<planes {
            let from = source + p * h * w
            let to = grown + p * evenPlaneSize
            for row in 0..<h {
                (to + row * ew).update(from: from + row * w, count: w)
                if ew > w { to[row * ew + w] = 0 }
            }
            if even.inHeight > h { (to + h * ew).update(repeating: 0, count: ew) }
        }
    }

    /// Copies (or adds) the top-left `inHeight x inWidth` of each of `planes` even planes into `target`.
    private func crop(
        _ grown: UnsafePointer<Float>, planes: Int, into target: UnsafeMutablePointer<Float>, accumulate: Bool,
        _ even: Convolution
    ) {
        let (h, w, ew) = (inHeight, inWidth, even.inWidth)
        let evenPlaneSize = even.inHeight * ew
        for p in 0..<planes {
            let from = grown + p * evenPlaneSize
            let to = target + p * h * w
            for row in 0..<h {
                let source = from + row * ew
                let line = to + row * w
                if accumulate {
                    for i in 0..<w { line[i] += source[i] }
                } else {
                    line.update(from: source, count: w)
                }
            }
        }
    }
}
