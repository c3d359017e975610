import Foundation
import Testing
import WhittleIR
import WhittleInterpreter
import WhittleKit
import WhittleNumPy

/// Every bundled model, run by the interpreter on the inputs in its `.refs.npz`,
/// matches ONNX Runtime's outputs (`out_<j>`).
struct ZooTests {
    static let models = ["ad_autoencoder", "digits_cnn", "digits_mlp", "ic_resnet8", "kws_dscnn", "vww_mobilenet_v1_025",
                         "digits_cnn_int8_qdq", "ic_resnet8_int8_qdq", "kws_dscnn_int8_qdq"]

    @Test(arguments: models)
    func interpreterMatchesOnnxRuntime(model: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let interpreter = try Interpreter(model: analyzed.model, inference: analyzed.inference)
        let refs = try NPZArchive(path: TestPaths.model("\(model).refs.npz"))
        let inputs = try analyzed.graph.inputs.indices.map { try refs.array("in_\($0)") }
        let outputs = try analyzed.graph.outputs.indices.map { try refs.array("out_\($0)") }
        let cases = try #require(inputs.first?.shape.first)
        let quantized = model.hasSuffix("_qdq")
        var worst = 0.0
        for c in 0..<cases {
            var feed: [String: NDArray] = [:]
            for (i, input) in analyzed.graph.inputs.enumerated() {
                feed[input.name] = slice(NDArray(inputs[i]), case: c)
            }
            let results = try interpreter.run(feed)
            for (j, output) in analyzed.graph.outputs.enumerated() {
                let got = try #require(results[output.name]).floats
                let expected = slice(NDArray(outputs[j]), case: c).floats
                #expect(got.count == expected.count)
                for (g, e) in zip(got, expected) {
                    let error = Double(abs(g - e))
                    // Float models: 1e-4 relative to max(1, |ref|). Quantized models: within one
                    // quantization step of the final output (1/256 for a uint8 probability).
                    let bound = quantized ? 1.0 / 255.0 + 1e-6 : 1e-4 * max(1, Double(abs(e)))
                    worst = max(worst, error / (quantized ? 1 : max(1, Double(abs(e)))))
                    #expect(error <= bound, "case \(c) output \(output.name): got \(g), expected \(e)")
                }
            }
        }
        print("zoo \(model): \(cases) cases, max error \(worst)")
    }

    /// Element `c` of the leading (case) axis.
    func slice(_ array: NDArray, case c: Int) -> NDArray {
        let shape = Array(array.shape.dropFirst())
        let size = shape.reduce(1, *)
        return array.gathered(Array((c * size)..<((c + 1) * size)), shape: shape)
    }
}

/// The integer operators against ONNX Runtime's own outputs (recorded by make_fixtures.py): bit for bit.
struct IntegerOperatorTests {
    @Test(arguments: ["qlinearconv", "qlinearmatmul", "matmulinteger", "convinteger", "dynamicquantizelinear",
                      "qlinearadd", "qlinearmul", "qlinearaveragepool", "qlinearglobalaveragepool", "qgemm", "qgemm_float"])
    func matchesOnnxRuntimeExactly(name: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.fixture("q_\(name).onnx"))
        let refs = try NPZArchive(path: TestPaths.fixture("q_\(name).refs.npz"))
        let input = try #require(analyzed.graph.inputs.first)
        let results = try Interpreter(model: analyzed.model, inference: analyzed.inference)
            .run([input.name: NDArray(try refs.array("in_0"))])
        for (j, output) in analyzed.graph.outputs.enumerated() {
            let expected = NDArray(try refs.array("out_\(j)"))
            let got = try #require(results[output.name])
            #expect(got.elementType == expected.elementType)
            #expect(got.shape == expected.shape)
            #expect(got.doubles == expected.doubles, "\(name) output \(output.name)")
        }
    }
}
