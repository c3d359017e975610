import Foundation
import Testing
import WhittleIR
import WhittleInterpreter
import WhittleKit
import WhittleNumPy
import WhittleONNX
import WhittlePasses
import WhittleQuantization

/// Runs models as `whittle compile` does (after the standard passes, so quantized layers are integer kernels).
enum Deployed {
    static func interpreter(_ model: Model) throws -> Interpreter {
        let (optimized, types) = try PassPipeline.standard.run(model)
        return try Interpreter(model: optimized, inference: types)
    }

    /// Elements of `got` that differ from `expected`, and the largest difference in units of `step`.
    static func difference(_ got: NDArray, _ expected: NDArray, step: Double) -> (differing: Int, maxSteps: Double) {
        var differing = 0, maxSteps = 0.0
        for (g, e) in zip(got.doubles, expected.doubles) where g != e {
            differing += 1
            maxSteps = max(maxSteps, abs(g - e) / step)
        }
        return (differing, maxSteps)
    }

    /// The scale of the QuantizeLinear that feeds graph output `name` (its last quantization step).
    static func outputStep(_ graph: Graph, _ name: String) -> Double? {
        guard let dq = graph.nodes.first(where: { $0.outputs.first == name && $0.opType == "DequantizeLinear" }) else { return nil }
        return graph.initializers[dq.inputs[1]]?.doubles().first
    }
}

/// The shared int8 QDQ models made by ONNX Runtime's quantizer, run as integer kernels, against
/// ONNX Runtime's reference outputs: within one quantization step, with the non-bit-exact count printed.
struct ImportedQuantizedModelTests {
    @Test(arguments: ["digits_cnn_int8_qdq", "kws_dscnn_int8_qdq", "ic_resnet8_int8_qdq"])
    func matchesONNXRuntimeWithinOneStep(model: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let fused = try PassPipeline.standard.run(analyzed.model).0
        let floatOps = fused.graph.nodes.filter { ["Conv", "Gemm", "Add", "AveragePool", "Softmax", "MatMul"].contains($0.opType) }
        #expect(floatOps.isEmpty, "\(model): still in float: \(floatOps.map(\.name))")
        let interpreter = try Deployed.interpreter(analyzed.model)
        let refs = try NPZArchive(path: TestPaths.model("\(model).refs.npz"))
        let cases = try refs.array("in_0").shape[0]
        let output = analyzed.graph.outputs[0].name
        let step = try #require(Deployed.outputStep(analyzed.graph, output))
        var differing = 0, total = 0, worst = 0.0
        for c in 0..<cases {
            let inputs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: c)
            let got = try #require(try interpreter.run(inputs)[output])
            let all = NDArray(try refs.array("out_0"))
            let size = got.count
            let expected = all.gathered(Array((c * size)..<((c + 1) * size)), shape: got.shape)
            let d = Deployed.difference(got, expected, step: step)
            differing += d.differing
            total += size
            worst = max(worst, d.maxSteps)
        }
        print("int8 \(model): \(differing) of \(total) output elements differ from ONNX Runtime (max \(worst) steps)")
        #expect(worst <= 1.0 + 1e-6, "\(model): \(worst) quantization steps from ONNX Runtime")
    }
}
