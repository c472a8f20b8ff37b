import Distributed
import Foundation
import Testing

@testable import ResNet

/// Every kind of error ends `resnet-dist` with its documented status and one `error:` line, and a
/// coordinator's error reaches the other ranks with its kind (so their status, and with it
/// supervise.sh's choice to restart, is the coordinator's).
struct ExitStatusTests {
    /// A CLI call and what it must end with, for one kind of error.
    struct Case: CustomTestStringConvertible, Sendable {
        let kind: String
        let arguments: @Sendable (String) -> [String]
        let status: Int32
        let message: @Sendable (String) -> String
        var testDescription: String { kind }
    }

    static let tiny = ["train", "--arch", "resnet8", "--data", "generated", "--batch-size", "16"]

    static let cases: [Case] = [
        Case(
            kind: "usage", arguments: { _ in tiny + ["--train-subset", "5000"] }, status: 64,
            message: { _ in "--train-subset must be 1...2048, got 5000" }),
        Case(
            kind: "architecture (a flag)", arguments: { _ in tiny + ["--arch", "resnet21"] }, status: 64,
            message: { _ in "depth 21 is not 6n+2" }),
        Case(
            kind: "configuration", arguments: { _ in tiny + ["--arch", "resnet18"] }, status: 65,
            message: { _ in "resnet18 takes 224x224 images but the training data are 32x32" }),
        Case(
            kind: "data", arguments: { dir in ["train", "--data", dir + "/nowhere"] }, status: 65,
            message: { dir in dir + "/nowhere/data_batch_1.bin" }),
        Case(
            kind: "damaged checkpoint", arguments: { dir in ["eval", "--checkpoint", dir + "/garbage.safetensors"] },
            status: 65, message: { dir in dir + "/garbage.safetensors" }),
        Case(
            kind: "mismatched checkpoint",
            arguments: { dir in tiny + ["--iterations", "4", "--seed", "2", "--resume", dir + "/trained/checkpoint-00000002.safetensors"] },
            status: 65, message: { _ in "was trained with seed 1, not 2: resume with --seed 1" }),
        Case(
            kind: "file system", arguments: { dir in tiny + ["--iterations", "2", "--output", dir + "/a-file/run"] },
            status: 1, message: { dir in "(\(dir)/a-file is not a directory)" }),
        Case(
            kind: "injected failure", arguments: { _ in tiny + ["--iterations", "4", "--inject-failure", "0:2"] },
            status: 1, message: { _ in "injected failure at iteration 2 (--inject-failure)" }),
        Case(
            kind: "diverged", arguments: { _ in tiny + ["--iterations", "50", "--lr", "1e6"] }, status: 65,
            message: { _ in "training diverged at iteration" }),
    ]

    /// A directory holding what the cases refer to: a trained run, a garbage checkpoint, a plain file.
    static let fixtures: String = {
        let dir = temporaryDirectory("exitstatus")
        let exe = executablePath()!
        let trained = try! runProcess(exe, tiny + ["--iterations", "2", "--output", dir + "/trained"], timeout: 120)
        precondition(trained.status == 0, trained.stderr)
        _ = FileManager.default.createFile(atPath: dir + "/garbage.safetensors", contents: Data([1, 2, 3]))
        _ = FileManager.default.createFile(atPath: dir + "/a-file", contents: Data())
        return dir
    }()

    @Test("each kind of error: its status and one line", arguments: cases)
    func statusAndOneLine(_ c: Case) throws {
        let exe = try #require(executablePath(), "resnet-dist not built")
        let dir = Self.fixtures
        let out = try runProcess(exe, c.arguments(dir), timeout: 120)
        #expect(out.status == c.status, "\(c.kind): status \(out.status); stderr: \(out.stderr)")
        let errors = out.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") || $0.hasPrefix("Error:") }
        #expect(errors.count == 1, "\(c.kind): \(out.stderr)")
        #expect(errors.first?.contains(c.message(dir)) == true, "\(c.kind): \(out.stderr)")
        #expect(!out.stderr.contains("Fatal error") && !out.stderr.contains("Program crashed"))
    }

    /// Rank 0 fails with each kind in turn; rank 1, which ran nothing, throws the same kind.
    @Test func aCoordinatorsErrorReachesEveryRankWithItsKind() throws {
        struct Foreign: Error {}
        let failures: [Error] = ResNetError.Kind.allCases.map { ResNetError($0, "rank 0's own error") } + [Foreign()]
        for failure in failures {
            let group = ThreadGroup(size: 2)
            let seen = Locked<[Int: Error]>([:])
            let threads = (0..<2).map { rank in
                Thread {
                    do {
                        try group.communicator(rank: rank).onCoordinator { throw failure }
                    } catch {
                        seen.update { $0[rank] = error }
                    }
                }
            }
            threads.forEach { $0.start() }
            while seen.value.count < 2 { usleep(1000) }
            let expected = (failure as? ResNetError)?.kind ?? .fileSystem
            #expect((seen.value[1] as? ResNetError)?.kind == expected, "\(failure) arrived as \(seen.value[1]!)")
            #expect((seen.value[0] as? ResNetError)?.description == (failure as? ResNetError)?.description)
        }
    }

    @Test func everyKindHasItsOwnCode() {
        let codes = ResNetError.Kind.allCases.map(\.code)
        #expect(Set(codes).count == codes.count && !codes.contains(0))
        #expect(ResNetError.Kind.allCases.allSatisfy { ResNetError.Kind(code: $0.code) == $0 })
        #expect(ResNetError.Kind(code: 0) == nil && ResNetError.Kind(code: Int64(codes.count + 1)) == nil)
    }
}
