import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy

/// Models ONNX Runtime quantizes in its QOperator format end in com.microsoft.QLinearSoftmax when the
/// float model ends in Softmax. The interpreter computes it with ONNX Runtime's own arithmetic; the
/// whole model agrees with ONNX Runtime exactly, and the C equals the interpreter on the host
/// (sanitized) and under QEMU.
struct QLinearSoftmaxTests {
    @Test(arguments: [("kws_dscnn", "QUInt8"), ("kws_dscnn", "QInt8")])
    func ortQOperatorModelsEndingInSoftmaxCompile(model: String, activations: String) throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the test venv with onnxruntime is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("qlinear-softmax-\(model)-\(activations)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/\(model)_qoperator.onnx", refs = TestPaths.model("\(model).refs.npz")
        let made = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_qoperator.py").path,
                                                         TestPaths.model("\(model).onnx"), refs, "in_0", path, activations, "QInt8"])
        #expect(made.status == 0, "\(made.stderr.suffix(600))")
        let analyzed = try ModelLoader.load(path: path)
        #expect(analyzed.graph.nodes.contains { $0.qualifiedOpType == "com.microsoft.QLinearSoftmax" })

        // The interpreter agrees with ONNX Runtime on the reference inputs, exactly.
        let (differing, total, worst) = try Deployed.againstONNXRuntime(analyzed, path: path, refs: refs, python: python, directory: directory)
        print("QOperator \(activations) \(model): \(differing) of \(total) output elements differ from ONNX Runtime (max \(worst) steps)")
        #expect(worst == 0)

        // The C computes exactly what the interpreter does.
        try Deployed.expectCEqualsInterpreter(analyzed, path: path, directory: directory)
    }

    /// The softmax alone against ONNX Runtime on rows built to reach the table's ends: equal values,
    /// a row spanning the whole byte range, a long row (a smaller shift), and opset 12's flattened rows.
    @Test(arguments: [("uint8", 13), ("int8", 13), ("uint8", 12)])
    func theOperatorMatchesONNXRuntime(type: String, opset: Int) throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the test venv with onnxruntime is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("qlinear-softmax-op-\(type)-\(opset)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let made = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_qlinear_softmax.py").path,
                                                         directory, type, String(opset)])
        #expect(made.status == 0, "\(made.stderr.suffix(600))")
        let analyzed = try ModelLoader.load(path: directory + "/softmax.onnx")
        let archive = try NPZArchive(path: directory + "/softmax.npz")
        let outputs = try ModelRunner.run(analyzed, inputs: ["x": NDArray(try archive.array("x"))])
        let expected = NDArray(try archive.array("y"))
        let actual = try #require(outputs[analyzed.graph.outputs[0].name])
        #expect(actual.ints == expected.ints, "\(type) opset \(opset)")
        var options = ModelVerifier.Options()
        options.compiler = "gcc"
        let host = try ModelVerifier.verify(analyzed, inputs: ["x": NDArray(try archive.array("x"))], options: options,
                                            workDirectory: directory + "/host")
        #expect(host[0].maxAbsError == 0 && host[0].passed)
    }
}
