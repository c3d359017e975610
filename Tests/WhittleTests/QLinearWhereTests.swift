import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy

/// ONNX Runtime's com.microsoft.QLinearWhere, which its QOperator quantizer writes for Where.
struct QLinearWhereTests {
    /// QLinearWhere alone against ONNX Runtime: condition, X and Y broadcast together, X requantized to
    /// Z's scale and Y copied (or both requantized), inputs spanning the byte range; the C equals the
    /// interpreter.
    @Test(arguments: [("uint8", false), ("int8", false), ("int8", true)])
    func whereMatchesONNXRuntime(type: String, both: Bool) throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the test venv with onnxruntime is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("qlinear-where-\(type)\(both ? "-both" : "")")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let made = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_qlinear_where.py").path,
                                                         directory, type] + (both ? ["both"] : []))
        #expect(made.status == 0, "\(made.stderr.suffix(600))")
        let analyzed = try ModelLoader.load(path: directory + "/where.onnx")
        let archive = try NPZArchive(path: directory + "/where.npz")
        let inputs = try ["c", "x", "y"].reduce(into: [String: NDArray]()) { $0[$1] = NDArray(try archive.array($1)) }
        let outputs = try ModelRunner.run(analyzed, inputs: inputs)
        let expected = NDArray(try archive.array("z"))
        let actual = try #require(outputs[analyzed.graph.outputs[0].name])
        #expect(actual.ints == expected.ints, "\(type)\(both ? ", both requantized" : "")")
        var options = ModelVerifier.Options()
        options.compiler = "gcc"
        let host = try ModelVerifier.verify(analyzed, inputs: inputs, options: options, workDirectory: directory + "/host")
        #expect(host[0].maxAbsError == 0 && host[0].passed)
    }
}
