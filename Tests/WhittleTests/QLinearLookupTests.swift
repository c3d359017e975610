import Foundation
import Testing
import WhittleIR
import WhittleKit

/// ONNX Runtime's QOperator form of a network with LeakyRelu, Sigmoid and Concat uses com.microsoft
/// QLinearLeakyRelu, QLinearSigmoid and QLinearConcat (tables built from float arithmetic, one per
/// input of the concatenation). The interpreter builds the same tables, so it agrees with ONNX Runtime exactly;
/// the C equals the interpreter on the host and under QEMU.
struct QLinearLookupTests {
    /// With `sigmoid`, ONNX Runtime's x86 logistic (fused multiply-adds) may differ from its portable
    /// kernel, which Whittle follows, in a float's last bit: at most one step then.
    @Test(arguments: [("QUInt8", false), ("QInt8", false), ("QUInt8", true), ("QInt8", true)])
    func ortLeakyReluAndConcatMatchONNXRuntime(activations: String, sigmoid: Bool) throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the test venv with onnxruntime is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("qlinear-lookup-\(activations)\(sigmoid ? "-sigmoid" : "")")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let float = directory + "/branches.onnx", refs = directory + "/branches.npz", path = directory + "/branches_qoperator.onnx"
        let scripts = TestPaths.root.appendingPathComponent("Tests/Quantization")
        let made = try CommandLineTests.execute(python, [scripts.appendingPathComponent("branches_model.py").path, float, refs]
                                                         + (sigmoid ? ["sigmoid"] : []))
        #expect(made.status == 0, "\(made.stderr.suffix(600))")
        let quantized = try CommandLineTests.execute(python, [scripts.appendingPathComponent("ort_qoperator.py").path, float, refs, "in_0", path,
                                                              activations, "QInt8"])
        #expect(quantized.status == 0, "\(quantized.stderr.suffix(600))")
        let analyzed = try ModelLoader.load(path: path)
        let ops = Set(analyzed.graph.nodes.map(\.qualifiedOpType))
        #expect(ops.isSuperset(of: ["com.microsoft.QLinearLeakyRelu", "com.microsoft.QLinearConcat"]
                                   + (sigmoid ? ["com.microsoft.QLinearSigmoid"] : [])), "\(ops)")

        let (differing, total, worst) = try Deployed.againstONNXRuntime(analyzed, path: path, refs: refs, python: python, directory: directory)
        print("QOperator \(activations) branches\(sigmoid ? " with sigmoid" : ""): \(differing) of \(total) output elements differ from ONNX Runtime (max \(worst) steps)")
        #expect(worst <= (sigmoid ? 1 : 0))

        try Deployed.expectCEqualsInterpreter(analyzed, path: path, directory: directory)
    }
}
