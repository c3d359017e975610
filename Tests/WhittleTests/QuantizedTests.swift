import Foundation
import Testing
import WhittleIR
import WhittleInterpreter
import WhittleKit
import WhittleNumPy
import WhittlePasses

/// QDQ models with their quantized layers fused into integer operators.
struct QuantizedTests {
    static let pipeline = PassPipeline.standard

    @Test(arguments: ["digits_cnn_int8_qdq", "kws_dscnn_int8_qdq", "ic_resnet8_int8_qdq"])
    func fusedModelsMatchOnnxRuntimeWithinOneStep(model: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let (fused, types) = try Self.pipeline.run(analyzed.model)
        let ops = Set(fused.graph.nodes.map(\.opType))
        #expect(!ops.contains("Conv") && !ops.contains("Gemm"), "\(model): float layers remain: \(ops.sorted())")
        // No float op runs between a dequantize and a quantize, except a final Softmax on the dequantized logits.
        let interpreter = try Interpreter(model: fused, inference: types)
        let refs = try NPZArchive(path: TestPaths.model("\(model).refs.npz"))
        let inputs = NDArray(try refs.array("in_0")), outputs = NDArray(try refs.array("out_0"))
        let cases = inputs.shape[0], inSize = inputs.count / cases, outSize = outputs.count / cases
        var differing = 0, total = 0
        for c in 0..<cases {
            let x = inputs.gathered(Array((c * inSize)..<((c + 1) * inSize)), shape: Array(inputs.shape.dropFirst()))
            let got = try #require(try interpreter.run([analyzed.graph.inputs[0].name: x])[analyzed.graph.outputs[0].name]).floats
            let expected = Array(outputs.floats[(c * outSize)..<((c + 1) * outSize)])
            for (g, e) in zip(got, expected) {
                total += 1
                if g != e { differing += 1 }
                // One step of the output's quantization (probabilities or logits).
                #expect(abs(g - e) <= Self.step(model) * 1.0001, "\(model) case \(c): \(g) vs \(e)")
            }
        }
        print("int8 \(model): \(differing) of \(total) output elements differ from ONNX Runtime's float-path reference; ops \(ops.sorted())")
    }

    /// The quantization step of each model's final output.
    static func step(_ model: String) -> Float {
        guard let analyzed = try? ModelLoader.load(path: TestPaths.model("\(model).onnx")) else { return 1 }
        let output = analyzed.graph.outputs[0].name
        guard let dq = analyzed.graph.nodes.first(where: { node in node.outputs.first == output }),
              dq.opType == "DequantizeLinear", let scale = analyzed.graph.initializers[dq.inputs[1]]?.floats().first else { return 1 }
        return scale
    }
}

/// verify's verdict on quantized models: the C against the compiled integer graph decides; its
/// distance to the model as given is reported in steps, and decides only with --strict.
struct QuantizedVerdictTests {
    @Test func fidelityIsReportedAndDecidesOnlyWhenStrict() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("ic_resnet8_int8_qdq.onnx"))
        for strict in [false, true] {
            var options = ModelVerifier.Options()
            options.sanitize = false
            options.strict = strict
            let directory = CBackendTests.workDirectory("verdict-\(strict)")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let results = try ModelVerifier.verify(analyzed, inputs: nil, options: options, workDirectory: directory)
            #expect(results[0].decides && results[0].maxAbsError == 0)
            #expect(results[1].decides == strict && results[1].detail?.contains("within one step, top-1 agrees on 1 of 1 rows") == true,
                    "\(String(describing: results[1].detail))")
        }
        let cli = try CommandLineTests.run(["verify", TestPaths.model("ic_resnet8_int8_qdq.onnx"), "--no-sanitize"])
        #expect(cli.status == 0 && cli.stdout.contains("(model as given)") && cli.stdout.contains("INFO"), "\(cli.stdout)")
    }

    @Test func stepsAreCountedAgainstTheReference() {
        let text = ModelVerifier.stepsReport([0.0, 0.5, 1.0, 0.25, 0.0, 0.0], [0.0, 0.25, 0.0, 0.0, 0.5, 0.0], step: 0.25, rows: 3)
        #expect(text == "max 4 steps off, 67 % of 6 within one step, top-1 agrees on 0 of 2 rows", "\(text)")
    }
}

/// A deep int8 model as users bring it: ONNX Runtime's static quantizer on a MobileNetV2 (52
/// convolutions). verify passes it: the C equals the compiled integer graph, and the distance to
/// the model as given is reported in steps.
struct DeepQuantizedModelTests {
    @Test func ortQuantizedMobileNetV2Verifies() throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the test venv with onnxruntime is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("ort-mobilenet-v2")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let model = directory + "/mobilenet_v2_int8.onnx"
        let made = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_mobilenet_v2.py").path, model])
        #expect(made.status == 0, "\(made.stderr.suffix(600))")
        let analyzed = try ModelLoader.load(path: model)
        #expect(analyzed.graph.nodes.filter { $0.opType == "Conv" }.count == 52)
        let verify = try CommandLineTests.run(["verify", model])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("logits: max abs error 0, max ULP 0  PASS"), "\(verify.stdout)")
        #expect(verify.stdout.contains("logits (model as given)") && verify.stdout.contains("steps off") && verify.stdout.contains("INFO"))
        // Every convolution runs on the integer kernels.
        let compiled = try ModelCompiler.compile(analyzed)
        #expect(compiled.bundle.layers.filter { $0.op == "QLinearConv" }.count == 52)
    }
}
