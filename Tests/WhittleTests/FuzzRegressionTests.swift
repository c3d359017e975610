import Foundation
import Testing

/// Inputs the fuzz targets once failed on (Tests/Fuzz/regressions/TARGET), and their seeds, run
/// through the same targets in the normal build: each must end in an error or a result, never a crash.
struct FuzzRegressionTests {
    @Test(arguments: ["onnx", "npy", "npz", "target"])
    func keptInputsRunCleanly(target: String) throws {
        let fuzz = try #require(TestPaths.whittle?.deletingLastPathComponent().appendingPathComponent("whittle-fuzz"),
                                "whittle-fuzz is built by `swift build`")
        let folders = ["Tests/Fuzz/regressions/\(target)", target == "target" ? "Targets" : "Tests/Fuzz/seeds/\(target)"]
        let run = try CommandLineTests.execute(fuzz.path, [target] + folders.map { TestPaths.root.appendingPathComponent($0).path })
        #expect(run.status == 0, "\(run.stderr.suffix(800))")
        #expect(run.stdout.hasPrefix("ran "), "\(run.stdout)")
    }
}
