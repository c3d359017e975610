import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy

/// ONNX Runtime's com.microsoft.QLinearReduceMean. Its CPU provider has no kernel for it, so the oracle
/// is the same arithmetic in standard ONNX (DequantizeLinear → ReduceMean → QuantizeLinear) run by
/// ONNX Runtime: it sums the dequantized floats, the interpreter sums the integers exactly, so at most
/// one step apart (a mean within a float rounding of a tie). The C equals the interpreter on the host
/// and on a Cortex-M.
struct QLinearReduceMeanTests {
    @Test(arguments: ["uint8", "int8"])
    func reduceMeanMatchesONNXRuntime(type: String) throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the test venv with onnxruntime is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("qlinear-reduce-mean-\(type)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let made = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_qlinear_reduce_mean.py").path,
                                                         directory, type])
        #expect(made.status == 0, "\(made.stderr.suffix(600))")
        let archive = try NPZArchive(path: directory + "/mean.npz")
        let inputs = ["x": NDArray(try archive.array("x"))]
        var differing = 0
        for k in 0..<3 {
            let path = directory + "/mean_\(k).onnx"
            let analyzed = try ModelLoader.load(path: path)
            let actual = try #require(try ModelRunner.run(analyzed, inputs: inputs)["y"])
            let expected = NDArray(try archive.array("y_\(k)"))
            #expect(actual.shape == expected.shape, "case \(k)")
            let steps = zip(actual.ints, expected.ints).map { abs($0 - $1) }
            #expect(steps.allSatisfy { $0 <= 1 }, "\(type) case \(k): \(steps)")
            differing += steps.filter { $0 != 0 }.count
            var options = ModelVerifier.Options()
            options.compiler = "gcc"
            let host = try ModelVerifier.verify(analyzed, inputs: inputs, options: options, workDirectory: directory + "/host\(k)")
            #expect(host[0].maxAbsError == 0 && host[0].passed, "\(type) case \(k) on the host")
            if TargetTests.emulatorsInstalled {
                let inputFile = directory + "/x.npz"
                try NPZArchive.write([("x", try #require(inputs["x"]).tensor())], to: inputFile)
                let cli = try CommandLineTests.run(["verify", path, "--target", "cortex-m4f", "--inputs", inputFile])
                #expect(cli.status == 0 && cli.stdout.contains("max abs error 0, max ULP 0"), "\(type) case \(k): \(cli.stdout) \(cli.stderr)")
            }
        }
        print("QLinearReduceMean \(type): \(differing) outputs one step from ONNX Runtime's DequantizeLinear/ReduceMean/QuantizeLinear")
    }
}
