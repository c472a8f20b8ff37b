import Kernels
import Testing

struct BatchNormTests {
    let norm = BatchNorm(channels: 3, spatial: 5)
    let batch = 4

    func forward(
        _ x: [Float], _ gamma: [Float], _ beta: [Float]
    ) -> (y: [Float], mean: [Float], invStd: [Float], rm: [Float], rv: [Float]) {
        var y = [Float](repeating: 0, count: x.count)
        var mean = [Float](repeating: 0, count: 3)
        var invStd = mean
        var rm = mean
        var rv = [Float](repeating: 1, count: 3)
        var scratch = [Double](repeating: 0, count: norm.scratchCount(batch: batch))
        try! norm.forwardTraining(
            input: x, output: &y, batch: batch, gamma: gamma, beta: beta, savedMean: &mean,
            savedInvStd: &invStd, runningMean: &rm, runningVar: &rv, scratch: &scratch)
        return (y, mean, invStd, rm, rv)
    }

    @Test func trainingForwardNormalisesAndUpdatesRunningStatistics() {
        let x = randomValues(batch * 15, seed: 11).map { $0 * 3 + 2 }
        let f = forward(x, [1, 1, 1], [0, 0, 0])
        for c in 0..<3 {
            let values = (0..<batch).flatMap { n in (0..<5).map { x[n * 15 + c * 5 + $0] } }
            let m = values.reduce(0, +) / Float(values.count)
            let v = values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Float(values.count)
            #expect(abs(f.mean[c] - m) < 1e-5)
            #expect(abs(f.rm[c] - 0.1 * m) < 1e-5, "running mean moves 10% towards the batch mean")
            let unbiased = v * Float(values.count) / Float(values.count - 1)
            #expect(abs(f.rv[c] - (0.9 + 0.1 * unbiased)) < 1e-4, "running variance uses the unbiased variance")
            let ys = (0..<batch).flatMap { n in (0..<5).map { f.y[n * 15 + c * 5 + $0] } }
            #expect(abs(ys.reduce(0, +)) < 1e-4)
        }
    }

    @Test func trainingBackwardMatchesFiniteDifferences() throws {
        var x = randomValues(batch * 15, seed: 12).map { $0 * 2 + 0.5 }
        var gamma: [Float] = [1.5, 0.7, -0.8]
        var beta: [Float] = [0.1, -0.2, 0.3]
        let r = randomValues(x.count, seed: 13)
        let f = forward(x, gamma, beta)
        var dx = [Float](repeating: 0, count: x.count)
        var dg = [Float](repeating: 0, count: 3)
        var db = dg
        var scratch = [Double](repeating: 0, count: norm.scratchCount(batch: batch))
        try norm.backward(
            input: x, outputGrad: r, inputGrad: &dx, batch: batch, gamma: gamma, savedMean: f.mean,
            savedInvStd: f.invStd, gammaGrad: &dg, betaGrad: &db, scratch: &scratch)
        let g0 = gamma
        let b0 = beta
        let x0 = x
        let ex = finiteDifferenceError(values: &x, analytic: dx, epsilon: 1e-3) {
            weightedSum(forward($0, g0, b0).y, r)
        }
        let eg = finiteDifferenceError(values: &gamma, analytic: dg, epsilon: 1e-3) {
            weightedSum(forward(x0, $0, b0).y, r)
        }
        let eb = finiteDifferenceError(values: &beta, analytic: db, epsilon: 1e-3) {
            weightedSum(forward(x0, g0, $0).y, r)
        }
        #expect(ex < 1e-3, "input gradient relative error \(ex)")
        #expect(eg < 1e-3, "gamma gradient relative error \(eg)")
        #expect(eb < 1e-3, "beta gradient relative error \(eb)")
    }

    @Test func backwardInPlaceEqualsOutOfPlace() throws {
        let x = randomValues(batch * 15, seed: 14)
        let gamma: [Float] = [1, 2, 3]
        let beta: [Float] = [0, 0, 0]
        let f = forward(x, gamma, beta)
        let r = randomValues(x.count, seed: 15)
        var out = [Float](repeating: 0, count: x.count)
        var inPlace = r
        var dg = [Float](repeating: 0, count: 3)
        var db = dg
        var scratch = [Double](repeating: 0, count: norm.scratchCount(batch: batch))
        try norm.backward(
            input: x, outputGrad: r, inputGrad: &out, batch: batch, gamma: gamma, savedMean: f.mean,
            savedInvStd: f.invStd, gammaGrad: &dg, betaGrad: &db, scratch: &scratch)
        try inPlace.withUnsafeMutableBufferPointer { p in
            try norm.backward(
                input: x, outputGrad: p.baseAddress!, inputGrad: p.baseAddress!, batch: batch, gamma: gamma,
                savedMean: f.mean, savedInvStd: f.invStd, gammaGrad: &dg, betaGrad: &db, scratch: &scratch)
        }
        #expect(out == inPlace)
    }

    @Test func inferenceUsesRunningStatistics() {
        let x = randomValues(batch * 15, seed: 16)
        var y = [Float](repeating: 0, count: x.count)
        let rm: [Float] = [0.5, -1, 2]
        let rv: [Float] = [4, 0.25, 1]
        let gamma: [Float] = [2, 1, 0.5]
        let beta: [Float] = [1, 0, -1]
        norm.forwardInference(
            input: x, output: &y, batch: batch, gamma: gamma, beta: beta, runningMean: rm, runningVar: rv)
        for n in 0..<batch {
            for c in 0..<3 {
                for i in 0..<5 {
                    let k = n * 15 + c * 5 + i
                    let expected = (x[k] - rm[c]) / (rv[c] + 1e-5).squareRoot() * gamma[c] + beta[c]
                    #expect(abs(y[k] - expected) < 1e-5)
                }
            }
        }
    }
}
