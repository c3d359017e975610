import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleONNX

/// ONNX Runtime's integer forms of the digits MLP (Examples/models/digits_mlp_dynamic.onnx from
/// quantize_dynamic: DynamicQuantizeLinear and MatMulInteger; digits_mlp_qoperator.onnx from
/// quantize_static in the QOperator format: QLinearMatMul and QLinearAdd), made by
/// Tests/IntegerModels/make_models.py with ONNX Runtime's outputs: the interpreter matches ONNX
/// Runtime, and the C matches the interpreter on the host and on a Cortex-M4F under QEMU.
struct IntegerModelTests {
    static let models = ["digits_mlp_dynamic", "digits_mlp_qoperator"]

    /// How far an output may be from ONNX Runtime's: 1e-4 relative for the dynamic model's float
    /// output; one step of the output's quantization for the QOperator model.
    static func allowance(_ model: String, reference: Float) throws -> Float {
        guard model == "digits_mlp_qoperator" else { return 1e-5 + 1e-4 * abs(reference) }
        let onnx = try ONNXReader.read(path: TestPaths.model("\(model).onnx"))
        let last = try #require(onnx.graph.nodes.last { $0.opType == "DequantizeLinear" })
        let scale = try #require(onnx.graph.initializers[last.inputs[1]]?.floats().first)
        return scale * 1.0001
    }

    @Test(arguments: models)
    func interpreterMatchesONNXRuntime(model: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let operators = Set(analyzed.graph.nodes.map(\.opType))
        #expect(operators.isSuperset(of: model.hasSuffix("dynamic") ? ["DynamicQuantizeLinear", "MatMulInteger"] : ["QLinearMatMul"]))
        let archive = try NPZArchive(path: TestPaths.model("\(model).refs.npz"))
        let expected = NDArray(try archive.array("out_0")).floats
        for index in 0..<15 {
            let inputs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: index)
            let outputs = try ModelRunner.run(analyzed, inputs: inputs)
            let actual = try #require(outputs[analyzed.graph.outputs[0].name]).floats
            #expect(actual.count == 10)
            for (k, value) in actual.enumerated() {
                let reference = expected[index * 10 + k]
                #expect(abs(value - reference) <= (try Self.allowance(model, reference: reference)),
                        "\(model) case \(index) output \(k): \(value) against \(reference)")
            }
        }
    }

    @Test(arguments: models, ["gcc", "clang"])
    func cMatchesTheInterpreterOnTheHost(model: String, compiler: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        var options = ModelVerifier.Options()
        options.compiler = compiler
        for index in [0, 7] {
            let inputs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: index)
            let work = CBackendTests.workDirectory("\(model)-\(compiler)-\(index)")
            for c in try ModelVerifier.verify(analyzed, inputs: inputs, options: options, workDirectory: work) {
                #expect(c.passed, "\(model) (\(compiler)) case \(index): \(c.name) max abs error \(c.maxAbsError)")
            }
        }
    }

    @Test(arguments: models)
    func cMatchesTheInterpreterOnCortexM4F(model: String) throws {
        guard TargetTests.emulatorsInstalled, let catalog = TargetTests.catalog else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("QEMU or a cross compiler is missing") }
            return
        }
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let inputs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: 3)
        let result = try TargetVerifier.verify(analyzed, target: try catalog.target("cortex-m4f"), catalog: catalog, inputs: inputs, tolerance: 1e-4,
                                               budgets: (nil, nil), workDirectory: CBackendTests.workDirectory("\(model)-m4f"))
        for c in result.comparisons { #expect(c.passed, "\(model) on cortex-m4f: \(c.name) max abs error \(c.maxAbsError)") }
        print("target cortex-m4f \(model): insns \(result.instructions ?? -1)")
    }
}
