import Testing

@testable import ResNet

struct ProgressLineTests {
    let fields = ProgressLine(enabled: true, total: 64_000, isTerminal: true, columns: { 50 }).fields(
        iteration: 1234, loss: 1.23456, error: 0.4321, lr: 0.1, imagesPerSecond: 190.4, remaining: 3725)

    @Test func aNarrowTerminalDropsTheLeastImportantFields() {
        #expect(fields == ["step  1234/64000", "loss 1.2346", "err 43.21%", "ETA 1h02m", "190 img/s", "lr 0.1"])
        #expect(ProgressLine.fit(fields, columns: 200) == fields.joined(separator: "  "))
        // 50 columns: 49 characters at most, whole fields only.
        let fifty = ProgressLine.fit(fields, columns: 50)
        #expect(fifty == "step  1234/64000  loss 1.2346  err 43.21%")
        #expect(ProgressLine.fit(fields, columns: 10) == "step  123")
        for columns in 1...120 { #expect(ProgressLine.fit(fields, columns: columns).count < max(columns, 2)) }
    }
}
