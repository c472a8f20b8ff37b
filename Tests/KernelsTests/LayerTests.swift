import Foundation
import Kernels
import Testing

/// ReLU, the option-A shortcut, pooling, the fc layer and the loss, each against finite differences.
struct LayerTests {
    @Test func reluBackwardMatchesFiniteDifferences() {
        var x = randomValues(50, seed: 21).map { $0 + ($0 > 0 ? 0.05 : -0.05) }  // away from the kink
        let r = randomValues(50, seed: 22)
        var y = [Float](repeating: 0, count: 50)
        var dx = y
        ReLU.forward(input: x, output: &y, count: 50)
        ReLU.backward(output: y, outputGrad: r, inputGrad: &dx, count: 50)
        let e = finiteDifferenceError(values: &x, analytic: dx, epsilon: 1e-3) { v in
            var out = [Float](repeating: 0, count: 50)
            ReLU.forward(input: v, output: &out, count: 50)
            return weightedSum(out, r)
        }
        #expect(e < 1e-3)
    }

    @Test func paddedIdentityShortcut() {
        let s = PaddedIdentity(inChannels: 2, outChannels: 4, inHeight: 4, inWidth: 4, stride: 2)
        let batch = 2
        var x = randomValues(batch * 2 * 16, seed: 23)
        let r = randomValues(batch * 4 * 4, seed: 24)
        func apply(_ v: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: batch * 4 * 4)
            s.addForward(input: v, output: &out, batch: batch)
            return out
        }
        let y = apply(x)
        // Channel 0 of the output is zero padding; channel 1 is input channel 0 at even positions.
        #expect(y[0..<4].allSatisfy { $0 == 0 })
        #expect(y[4] == x[0] && y[5] == x[2] && y[6] == x[8] && y[7] == x[10])
        #expect(y[12..<16].allSatisfy { $0 == 0 })
        var dx = [Float](repeating: 0, count: x.count)
        s.backward(outputGrad: r, inputGrad: &dx, batch: batch, accumulate: false)
        let e = finiteDifferenceError(values: &x, analytic: dx) { weightedSum(apply($0), r) }
        #expect(e < 1e-3)
    }

    @Test func globalAveragePool() {
        var x = randomValues(2 * 3 * 4, seed: 25)
        let r = randomValues(6, seed: 26)
        func apply(_ v: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: 6)
            GlobalAveragePool.forward(input: v, output: &out, batch: 2, channels: 3, spatial: 4)
            return out
        }
        #expect(abs(apply(x)[0] - (x[0] + x[1] + x[2] + x[3]) / 4) < 1e-6)
        var dx = [Float](repeating: 0, count: x.count)
        GlobalAveragePool.backward(outputGrad: r, inputGrad: &dx, batch: 2, channels: 3, spatial: 4)
        #expect(finiteDifferenceError(values: &x, analytic: dx) { weightedSum(apply($0), r) } < 1e-3)
    }

    @Test func linearLayer() {
        let fc = Linear(inFeatures: 5, outFeatures: 3)
        let batch = 4
        var x = randomValues(batch * 5, seed: 27)
        var w = randomValues(15, seed: 28)
        var b = randomValues(3, seed: 29)
        let r = randomValues(batch * 3, seed: 30)
        func apply(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: batch * 3)
            fc.forward(input: x, weight: w, bias: b, output: &y, batch: batch)
            return y
        }
        let y = apply(x, w, b)
        #expect(abs(y[0] - (b[0] + (0..<5).map { x[$0] * w[$0] }.reduce(0, +))) < 1e-5)
        var dx = [Float](repeating: 0, count: x.count)
        var dw = [Float](repeating: 0, count: 15)
        var db = [Float](repeating: 0, count: 3)
        fc.backward(input: x, weight: w, outputGrad: r, inputGrad: &dx, weightGrad: &dw, biasGrad: &db, batch: batch)
        let x0 = x
        let w0 = w
        let b0 = b
        #expect(finiteDifferenceError(values: &x, analytic: dx) { weightedSum(apply($0, w0, b0), r) } < 1e-3)
        #expect(finiteDifferenceError(values: &w, analytic: dw) { weightedSum(apply(x0, $0, b0), r) } < 1e-3)
        #expect(finiteDifferenceError(values: &b, analytic: db) { weightedSum(apply(x0, w0, $0), r) } < 1e-3)
    }

    @Test func softmaxCrossEntropy() {
        var z = randomValues(4 * 10, seed: 31).map { $0 * 3 }
        let labels: [Int32] = [3, 0, 9, 5]
        var g = [Float](repeating: 0, count: z.count)
        let (loss, _) = SoftmaxCrossEntropy.forwardBackward(
            logits: z, labels: labels, batch: 4, classes: 10,
            logitsGrad: &g, gradScale: 0.25)
        #expect(loss > 0)
        let e = finiteDifferenceError(values: &z, analytic: g, epsilon: 1e-3) { v in
            SoftmaxCrossEntropy.forwardBackward(
                logits: v, labels: labels, batch: 4, classes: 10, logitsGrad: nil, gradScale: 0
            ).lossSum * 0.25
        }
        #expect(e < 1e-3)
        // Uniform logits: loss log(10) per image, and the arg-max is class 0.
        let (uniform, correct) = SoftmaxCrossEntropy.forwardBackward(
            logits: [Float](repeating: 1, count: 40), labels: labels,
            batch: 4, classes: 10, logitsGrad: nil, gradScale: 0)
        #expect(abs(uniform - 4 * 2.302585093) < 1e-6)
        #expect(correct == 1)
    }

    /// Smoothed labels: the gradient is the loss's (finite differences), two classes worked by hand,
    /// and at ε = 0 the loss and gradient have the one-hot formula's bits.
    @Test func softmaxCrossEntropyWithSmoothedLabels() {
        var z = randomValues(4 * 10, seed: 37).map { $0 * 3 }
        let labels: [Int32] = [3, 0, 9, 5]
        var g = [Float](repeating: 0, count: z.count)
        let (loss, correct) = SoftmaxCrossEntropy.forwardBackward(
            logits: z, labels: labels, batch: 4, classes: 10, logitsGrad: &g, gradScale: 0.25, labelSmoothing: 0.1)
        let e = finiteDifferenceError(values: &z, analytic: g, epsilon: 1e-3) { v in
            SoftmaxCrossEntropy.forwardBackward(
                logits: v, labels: labels, batch: 4, classes: 10, logitsGrad: nil, gradScale: 0, labelSmoothing: 0.1
            ).lossSum * 0.25
        }
        #expect(e < 1e-3)
        var plainGrad = [Float](repeating: 0, count: z.count)
        let plain = SoftmaxCrossEntropy.forwardBackward(
            logits: z, labels: labels, batch: 4, classes: 10, logitsGrad: &plainGrad, gradScale: 0.25)
        #expect(plain.correct == correct && plain.lossSum != loss && plainGrad != g)
        // ε = 0: the one-hot loss's arithmetic, log-sum-exp minus the label's centred logit, bit for bit.
        var oneHot = 0.0
        for n in 0..<4 {
            let row = Array(z[(n * 10)..<(n * 10 + 10)])
            let top = row.max()!
            var sum = 0.0
            for v in row { sum += exp(Double(v - top)) }
            oneHot += log(sum) - Double(row[Int(labels[n])] - top)
            for k in 0..<10 {
                let p = exp(Double(row[k] - top)) / sum
                #expect(plainGrad[n * 10 + k] == Float(p - (k == Int(labels[n]) ? 1 : 0)) * 0.25)
            }
        }
        #expect(plain.lossSum.bitPattern == oneHot.bitPattern)
        // Two classes, softmax (1/4, 3/4), label 0, ε = 0.2: target (0.9, 0.1).
        var two = [Float](repeating: 0, count: 2)
        let (byHand, _) = SoftmaxCrossEntropy.forwardBackward(
            logits: [0, Float(log(3.0))], labels: [0], batch: 1, classes: 2, logitsGrad: &two, gradScale: 1,
            labelSmoothing: 0.2)
        let expected: Double = -(0.9 * log(0.25) + 0.1 * log(0.75))
        #expect(abs(byHand - expected) < 1e-6)
        #expect(abs(two[0] - -0.65) < 1e-6 && abs(two[1] - 0.65) < 1e-6)
    }
}
