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
    /// The C of the model at `path` equals the interpreter exactly: built by gcc with sanitizers on the
    /// host, and by each device's compiler under QEMU on cortex-m4f and rpi4.
    static func expectCEqualsInterpreter(_ analyzed: AnalyzedModel, path: String, directory: String,
                                         inputs: [String: NDArray]? = nil, targets: [String] = ["cortex-m4f", "rpi4"]) throws {
        var options = ModelVerifier.Options()
        options.compiler = "gcc"
        let host = try ModelVerifier.verify(analyzed, inputs: inputs, options: options, workDirectory: directory + "/host")
        #expect(host.contains(where: \.decides) && host.allSatisfy { !$0.decides || ($0.passed && $0.maxAbsError == 0) },
                "\(host.map { "\($0.name) \($0.maxAbsError)" })")
        guard TargetTests.emulatorsInstalled else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the cross compilers and QEMU are not installed") }
            return
        }
        for target in targets {
            let cli = try CommandLineTests.run(["verify", path, "--target", target])
            #expect(cli.status == 0 && cli.stdout.contains("max abs error 0, max ULP 0"), "\(target): \(cli.stdout) \(cli.stderr)")
        }
    }

    /// How far the interpreter's outputs are from ONNX Runtime's on the reference inputs `refs` (its
    /// `in_0` cases), in steps of the first output's quantization: (elements that differ, all, worst).
    static func againstONNXRuntime(_ analyzed: AnalyzedModel, path: String, refs: String, python: String,
                                   directory: String) throws -> (Int, Int, Double) {
        let ort = directory + "/ort.npz"
        let run = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_run.py").path,
                                                        path, refs, "in_0", ort])
        #expect(run.status == 0, "\(run.stderr.suffix(600))")
        let output = analyzed.graph.outputs[0].name
        let step = try #require(ModelVerifier.outputStep(analyzed.graph, output))
        return try difference(try interpreter(analyzed.model), output: output, samples: try NPZArchive(path: refs).array("in_0").shape[0],
                              inputs: { try ModelRunner.inputs(fromArchive: refs, for: analyzed.graph, case: $0) },
                              expected: NDArray(try NPZArchive(path: ort).array("out_0")), step: step)
    }

    static func interpreter(_ model: Model) throws -> Interpreter {
        let (optimized, types) = try PassPipeline.standard.run(model)
        return try Interpreter(model: optimized, inference: types)
    }

    /// Runs every sample and counts output elements that differ from `expected` (samples stacked on the
    /// first axis); the largest difference is in units of `step`.
    static func difference(_ interpreter: Interpreter, output: String, samples: Int, inputs: (Int) throws -> [String: NDArray],
                           expected: NDArray, step: Double) throws -> (differing: Int, total: Int, maxSteps: Double) {
        var differing = 0, total = 0, maxSteps = 0.0
        for i in 0..<samples {
            let got = try #require(try interpreter.run(try inputs(i))[output])
            let reference = expected.gathered(Array((i * got.count)..<((i + 1) * got.count)), shape: got.shape)
            for (g, e) in zip(got.doubles, reference.doubles) where g != e {
                differing += 1
                maxSteps = max(maxSteps, abs(g - e) / step)
            }
            total += got.count
        }
        return (differing, total, maxSteps)
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
        let refs = TestPaths.model("\(model).refs.npz")
        let output = analyzed.graph.outputs[0].name
        let step = try #require(ModelVerifier.outputStep(analyzed.graph, output))
        let (differing, total, worst) = try Deployed.difference(
            interpreter, output: output, samples: try NPZArchive(path: refs).array("in_0").shape[0],
            inputs: { try ModelRunner.inputs(fromArchive: refs, for: analyzed.graph, case: $0) },
            expected: NDArray(try NPZArchive(path: refs).array("out_0")), step: step)
        print("int8 \(model): \(differing) of \(total) output elements differ from ONNX Runtime (max \(worst) steps)")
        #expect(worst <= 1.0 + 1e-6, "\(model): \(worst) quantization steps from ONNX Runtime")
    }
}

/// Whittle's own quantizer: accuracy, agreement with ONNX Runtime on the written model, the C, the CLI.
struct QuantizerTests {
    static func quantize(_ model: String, calibration: String, options: QuantizationOptions = .init()) throws -> (AnalyzedModel, QuantizationResult) {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        return (analyzed, try ModelQuantizer.quantize(analyzed, calibration: TestPaths.model(calibration), options: options).0)
    }

    /// The python of the test venv, when it has ONNX Runtime.
    static var python: String? {
        let candidate = TestPaths.root.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else { return nil }
        return (try? CommandLineTests.execute(candidate, ["-c", "import onnxruntime"]))?.status == 0 ? candidate : nil
    }

    @Test func digitsCNNLosesAtMostOnePointOfAccuracy() throws {
        let (analyzed, result) = try Self.quantize("digits_cnn", calibration: "digits_calib.npz")
        let test = try SampleSet(path: TestPaths.model("digits_test.npz"), graph: analyzed.graph)
        #expect(test.keys["input"] == "X_img")
        let report = try QuantizationReport.evaluate(result, samples: test, labels: try test.labels("y"))
        let accuracy = try #require(report.accuracy)
        print(String(format: "digits_cnn top-1: float %.4f, int8 %.4f", accuracy.floatTop1, accuracy.quantizedTop1))
        #expect(abs(accuracy.floatTop1 - 0.9911111) < 1e-6)  // manifest.json's accuracy of the float model
        #expect(accuracy.floatTop1 - accuracy.quantizedTop1 <= 0.01)
        #expect((report.outputs[0].error.sqnrDecibels ?? 0) > 30)
        // Every Conv/Gemm became an integer kernel; weights are int8 per channel, biases int32.
        let deployed = try PassPipeline.standard.run(result.model).0
        #expect(deployed.graph.nodes.filter { $0.opType == "QLinearConv" }.count == 2)
        #expect(deployed.graph.nodes.filter { $0.opType == "QGemm" }.count == 1)
        #expect(!deployed.graph.nodes.contains { ["Conv", "Gemm", "Relu"].contains($0.opType) })
        #expect(report.quantizedWeightBytes * 3 < report.floatWeightBytes)
        #expect(report.layers.count == result.values.count && report.layers.allSatisfy { $0.error.sqnrDecibels ?? 99 > 20 })
    }

    @Test func weightsAndBiasesFollowTheTFLiteScheme() throws {
        let (_, result) = try Self.quantize("digits_cnn", calibration: "digits_calib.npz")
        let graph = result.model.graph
        for node in graph.nodes where node.opType == "DequantizeLinear" {
            guard let values = graph.initializers[node.inputs[0]] else { continue }
            let zeros = try #require(graph.initializers[node.inputs[2]]?.int64s())
            #expect(zeros.allSatisfy { $0 == 0 })
            if values.elementType == .int8 {
                let q = try #require(values.int64s())
                #expect(q.allSatisfy { $0 >= -127 && $0 <= 127 })
                #expect(q.contains(127) || q.contains(-127))  // the channel maximum maps to ±127
                #expect(graph.initializers[node.inputs[1]]?.count == values.shape[node.attributes["axis"] == .int(1) ? 1 : 0])
            } else {
                #expect(values.elementType == .int32)
            }
        }
        // Activations after a folded ReLU start at 0: zero point −128.
        #expect(result.values.filter { $0.op == "Conv" }.allSatisfy { $0.parameters.zeroPoint == -128 })
    }

    /// The written QDQ model runs in ONNX Runtime; Whittle's integer kernels agree within one output step.
    @Test(arguments: [("digits_cnn", "digits_calib.npz", "X_img", "int8"), ("digits_mlp", "digits_calib.npz", "X", "uint8"),
                      ("kws_dscnn", "kws_dscnn.refs.npz", "in_0", "int8"), ("ic_resnet8", "ic_resnet8.refs.npz", "in_0", "int8"),
                      ("ad_autoencoder", "ad_autoencoder.refs.npz", "in_0", "uint8")])
    func quantizedModelAgreesWithONNXRuntime(model: String, calibration: String, key: String, activations: String) throws {
        let type = try ModelQuantizer.activationType(activations)
        let (analyzed, result) = try Self.quantize(model, calibration: calibration, options: QuantizationOptions(activationType: type))
        let directory = CBackendTests.workDirectory("quantized-\(model)")
        try ModelRunner.makeDirectory(directory)
        let path = directory + "/\(model).int8.onnx"
        try ONNXWriter.write(result.model, to: path)
        // The file reads back as the same graph and still fuses completely.
        let reread = try ModelLoader.load(path: path)
        let deployed = try Deployed.interpreter(reread.model)
        let fusedNodes = try PassPipeline.standard.run(reread.model).0.graph.nodes
        #expect(fusedNodes.allSatisfy { !["Conv", "Gemm", "Add", "Softmax"].contains($0.opType) }, "\(model): \(fusedNodes.map(\.opType))")
        let samples = try SampleSet(path: TestPaths.model(calibration), graph: analyzed.graph, explicit: ["\(analyzed.graph.inputs[0].name)": key])
        // The emitted C computes exactly what the deployed interpreter does.
        var options = ModelVerifier.Options()
        options.sanitize = false
        let checks = try ModelVerifier.verify(reread, inputs: try samples.sample(0), options: options, workDirectory: directory + "/c")
        #expect(checks[0].maxAbsError == 0, "\(model): C differs from the integer graph")
        #expect(checks.allSatisfy { $0.passed }, "\(checks.map { "\($0.name) \($0.maxAbsError)" })")
        guard let python = Self.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record(".venv with onnxruntime is missing (make test creates it)") }
            return
        }
        let ort = directory + "/ort.npz"
        let run = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_run.py").path,
                                                        path, TestPaths.model(calibration), key, ort])
        #expect(run.status == 0, "\(run.stderr)")
        let output = reread.graph.outputs[0].name
        let step = try #require(ModelVerifier.outputStep(reread.graph, output))
        let (differing, total, worst) = try Deployed.difference(
            deployed, output: output, samples: samples.count, inputs: samples.sample,
            expected: NDArray(try NPZArchive(path: ort).array("out_0")), step: step)
        print("whittle-quantized \(model) (\(activations)): \(differing) of \(total) output elements differ from ONNX Runtime (max \(worst) steps)")
        #expect(worst <= 1.0 + 1e-6)
    }

    @Test func calibrationMethodsClipOutliers() throws {
        // 10,000 values spread over [-1, 1] plus one outlier at 50.
        var observer = RangeObserver()
        var values = (0..<10_000).map { Float($0 % 2001 - 1000) / 1000 }
        values.append(50)
        observer.observeExtremes("x", values)
        observer.observeHistogram("x", values)
        let minMax = try #require(observer.range("x", method: .minMax))
        let percentile = try #require(observer.range("x", method: .percentile(99.9)))
        let entropy = try #require(observer.range("x", method: .entropy))
        #expect(minMax.high == 50 && minMax.low == -1)
        #expect(percentile.high < 1.1 && percentile.high > 0.9)
        #expect(entropy.high < 10 && entropy.high > 0.5)
        #expect(percentile.low <= -0.9)
        for text in ["minmax", "entropy", "percentile:99.99"] { _ = try CalibrationMethod(parsing: text) }
        for bad in ["percentile", "percentile:20", "kmeans"] { _ = expectWhittleError { _ = try CalibrationMethod(parsing: bad) } }
    }

    @Test(arguments: ["percentile:99.99", "entropy"])
    func otherCalibrationMethodsKeepDigitsAccuracy(method: String) throws {
        let (analyzed, result) = try Self.quantize("digits_cnn", calibration: "digits_calib.npz",
                                                   options: QuantizationOptions(method: try CalibrationMethod(parsing: method)))
        let test = try SampleSet(path: TestPaths.model("digits_test.npz"), graph: analyzed.graph)
        let accuracy = try #require(try QuantizationReport.evaluate(result, samples: test, labels: try test.labels("y")).accuracy)
        print(String(format: "digits_cnn %@: int8 top-1 %.4f", method, accuracy.quantizedTop1))
        #expect(accuracy.floatTop1 - accuracy.quantizedTop1 <= 0.02)
    }

    @Test func commandLineQuantizesAndReports() throws {
        let directory = CBackendTests.workDirectory("quantize-cli")
        try ModelRunner.makeDirectory(directory)
        let out = directory + "/digits_cnn.int8.onnx", json = directory + "/report.json"
        let result = try CommandLineTests.run(["quantize", TestPaths.model("digits_cnn.onnx"), "--calibration", TestPaths.model("digits_calib.npz"),
                                               "-o", out, "--eval", TestPaths.model("digits_test.npz"), "--labels", "y", "--report", json])
        #expect(result.status == 0, "\(result.stderr)")
        for text in ["top-1 accuracy: float 99.11 %", "per-layer SQNR", "/features/features.0/Conv", "logits", "SQNR (dB)"] {
            #expect(result.stdout.contains(text), "\(text) missing from:\n\(result.stdout)")
        }
        let report = try JSONDecoder().decode(QuantizationReport.self, from: try Data(contentsOf: URL(fileURLWithPath: json)))
        #expect(report.samples == 450 && report.layers.count == 7)
        // compile --quantize gives the same C as compiling the written model.
        let direct = try CommandLineTests.run(["compile", out, "-o", directory + "/a", "--name", "m"])
        let fused = try CommandLineTests.run(["compile", TestPaths.model("digits_cnn.onnx"), "--quantize", "int8", "--calibration",
                                              TestPaths.model("digits_calib.npz"), "-o", directory + "/b", "--name", "m"])
        #expect(direct.status == 0 && fused.status == 0, "\(direct.stderr)\(fused.stderr)")
        // The first line names the model file each was compiled from (by its SHA-256), so it differs.
        func code(_ path: String) throws -> String {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).last.map(String.init) ?? ""
        }
        #expect(try code(directory + "/a/m.c").replacingOccurrences(of: "digits_cnn.int8.onnx", with: "digits_cnn.onnx") == (try code(directory + "/b/m.c")))
        #expect(try String(contentsOfFile: directory + "/b/m.c", encoding: .utf8).hasPrefix("/* Generated by Whittle "))
    }

    @Test func commandLineErrorsAreClear() throws {
        let directory = CBackendTests.workDirectory("quantize-errors")
        let model = TestPaths.model("digits_cnn.onnx")
        let cases: [([String], String)] = [
            (["quantize", model, "-o", directory + "/x.onnx"], "needs --calibration"),
            (["quantize", model, "--calibration", TestPaths.model("digits_calib.npz"), "--calibrate", "kmeans", "-o", directory + "/x.onnx"], "unknown calibration method \"kmeans\" (use minmax, percentile:P or entropy) (--calibrate)"),
            (["quantize", model, "--calibration", TestPaths.model("digits_calib.npz"), "--activations", "int4", "-o", directory + "/x.onnx"], "int8, uint8 or int16"),
            (["quantize", model, "--calibration", TestPaths.model("digits_calib.npz"), "--map", "input=nope", "-o", directory + "/x.onnx"], "has no array \"nope\""),
            (["quantize", model, "--calibration", TestPaths.model("digits_mlp.refs.npz"), "-o", directory + "/x.onnx"], "digits_mlp.refs.npz"),
            (["quantize", model, "--calibration", TestPaths.model("digits_calib.npz"), "--labels", "nope", "-o", directory + "/x.onnx"], "neither an array"),
            (["compile", model, "--quantize", "int4", "--calibration", TestPaths.model("digits_calib.npz"), "-o", directory], "supports int8"),
        ]
        for (arguments, message) in cases {
            let result = try CommandLineTests.run(arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("digits_cnn.onnx") || result.stderr.contains("--"), "\(result.stderr)")
        }
    }

    @Test func progressBarDrawsItsLine() {
        #expect(ProgressBar(width: 10).line("calibrating", done: 34, total: 100) == "calibrating [###-------]  34/100")
        #expect(ProgressBar(width: 10).line("evaluating", done: 5, total: 5) == "evaluating [##########] 5/5")
    }
}

/// The quantization report says how much of the work became integer, and warns when most did not.
struct QuantizationCoverageTests {
    @Test func workLeftInFloatIsCountedAndWarned() throws {
        // A product of two activations has no constant weights to quantize: all its MACs stay float.
        var graph = Graph(name: "coverage")
        graph.inputs = [ValueInfo(name: "a", type: TensorType(.float, [1, 32])), ValueInfo(name: "b", type: TensorType(.float, [32, 32]))]
        graph.initializers["w"] = try Tensor(floats: (0..<32 * 4).map { Float($0 % 7) - 3 }, shape: [32, 4])
        graph.nodes = [Node(name: "mix", opType: "MatMul", inputs: ["a", "b"], outputs: ["h"]),
                       Node(name: "head", opType: "MatMul", inputs: ["h", "w"], outputs: ["y"])]
        graph.outputs = [ValueInfo(name: "y", type: nil)]
        let model = Model(opsets: ["": 13], graph: graph)
        try FileManager.default.createDirectory(atPath: CBackendTests.workRoot, withIntermediateDirectories: true)
        let path = CBackendTests.workDirectory("coverage.npz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NPZArchive.write([("a", try Tensor(floats: (0..<8 * 32).map { Float($0 % 11) / 11 }, shape: [8, 1, 32])),
                              ("b", try Tensor(floats: (0..<8 * 32 * 32).map { Float($0 % 13) / 13 - 0.5 }, shape: [8, 32, 32]))], to: path)
        let analyzed = try ModelLoader.analyze(model, path: "coverage.onnx")
        let (result, samples) = try ModelQuantizer.quantize(analyzed, calibration: path)
        let report = try QuantizationReport.evaluate(result, samples: samples, labels: nil)
        #expect(report.totalMACs == 32 * 32 + 32 * 4 && report.integerMACs == 32 * 4, "\(report.integerMACs) of \(report.totalMACs)")
        #expect(report.text.contains("MACs on integer kernels: 128 of 1152 (11.1 %)"))
        #expect(report.text.contains("left in float:\n  mix (MatMul): its second input is not a constant matrix (a product of two activations)"))
        #expect(report.text.contains("warning: less than half of the multiply-accumulates run on integer kernels"))
    }

    /// A transformer's projections (MatMul of [batch, tokens, features] by a constant matrix) become
    /// integer matrix products; what stays float says why.
    @Test func transformerProjectionsAreQuantized() throws {
        let (tokens, d, hidden) = (8, 16, 32)
        var graph = Graph(name: "block")
        graph.inputs = [ValueInfo(name: "x", type: TensorType(.float, [1, tokens, d]))]
        func values(_ count: Int, _ seed: Int) -> [Float] { (0..<count).map { Float(($0 * 37 + seed * 11) % 29) / 29 - 0.5 } }
        graph.initializers = ["gamma": try Tensor(floats: values(d, 1).map { $0 + 1 }, shape: [d]), "beta": try Tensor(floats: values(d, 2), shape: [d]),
                              "w1": try Tensor(floats: values(d * hidden, 3), shape: [d, hidden]), "b1": try Tensor(floats: values(hidden, 4), shape: [hidden]),
                              "w2": try Tensor(floats: values(hidden * d, 5), shape: [hidden, d])]
        graph.nodes = [Node(name: "norm", opType: "LayerNormalization", inputs: ["x", "gamma", "beta"], outputs: ["h"]),
                       Node(name: "up", opType: "MatMul", inputs: ["h", "w1"], outputs: ["u"]),
                       Node(name: "up_bias", opType: "Add", inputs: ["u", "b1"], outputs: ["ub"]),
                       Node(name: "act", opType: "Relu", inputs: ["ub"], outputs: ["r"]),
                       Node(name: "down", opType: "MatMul", inputs: ["r", "w2"], outputs: ["m"]),
                       Node(name: "residual", opType: "Add", inputs: ["m", "x"], outputs: ["y"])]
        graph.outputs = [ValueInfo(name: "y", type: nil)]
        let model = Model(opsets: ["": 17], graph: graph)
        try FileManager.default.createDirectory(atPath: CBackendTests.workRoot, withIntermediateDirectories: true)
        let path = CBackendTests.workDirectory("block.npz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NPZArchive.write([("x", try Tensor(floats: (0..<16 * tokens * d).map { sin(Float($0) * 0.37) }, shape: [16, 1, tokens, d]))], to: path)
        let analyzed = try ModelLoader.analyze(model, path: "block.onnx")
        let (result, samples) = try ModelQuantizer.quantize(analyzed, calibration: path)
        let report = try QuantizationReport.evaluate(result, samples: samples, labels: nil)
        #expect(report.integerMACs == report.totalMACs && report.totalMACs == 2 * tokens * d * hidden, "\(report.integerMACs) of \(report.totalMACs)")
        #expect(report.quantizedWeightBytes < report.floatWeightBytes)
        #expect(!report.text.contains("warning:"))
        #expect(report.leftInFloat.contains("up_bias (Add): adds a constant (an integer Add takes two activations)"), "\(report.leftInFloat)")
        #expect(report.leftInFloat.contains { $0.hasPrefix("norm (LayerNormalization): no integer kernel") } || !report.leftInFloat.contains { $0.hasPrefix("norm") })
        for output in report.outputs { #expect((output.error.sqnrDecibels ?? 99) > 25, "\(output.name): \(output.error)") }
        // The compiled model runs both products on the integer matrix kernel and matches its graph exactly.
        let quantized = try ModelLoader.analyze(result.model, path: "block_int8.onnx")
        let compiled = try ModelCompiler.compile(quantized)
        #expect(compiled.bundle.layers.filter { $0.kernels.contains("whittle_fully_connected_s8") }.count == 2)
        let checks = try ModelVerifier.verify(quantized, inputs: nil, options: .init(), workDirectory: CBackendTests.workDirectory("block-verify"))
        for c in checks where c.decides { #expect(c.passed, "\(c.name): \(c.maxAbsError)") }
    }

    /// A recurrent layer has no integer kernel: it stays float and the report says so, with its MACs counted as float.
    @Test func recurrentLayersLeftInFloatAreListed() throws {
        let (steps, features, hidden) = (4, 8, 6)
        func values(_ count: Int, _ seed: Int) -> [Float] { (0..<count).map { Float(($0 * 31 + seed * 7) % 23) / 46 - 0.25 } }
        var graph = Graph(name: "recurrent")
        graph.inputs = [ValueInfo(name: "x", type: TensorType(.float, [steps, 1, features]))]
        graph.initializers = ["W": try Tensor(floats: values(4 * hidden * features, 1), shape: [1, 4 * hidden, features]),
                              "R": try Tensor(floats: values(4 * hidden * hidden, 2), shape: [1, 4 * hidden, hidden]),
                              "fc": try Tensor(floats: values(hidden * 3, 3), shape: [hidden, 3]), "shape": try Tensor(int64s: [1, Int64(hidden)], shape: [2])]
        graph.nodes = [Node(name: "lstm", opType: "LSTM", inputs: ["x", "W", "R"], outputs: ["", "h"], attributes: ["hidden_size": .int(hidden)]),
                       Node(name: "flat", opType: "Reshape", inputs: ["h", "shape"], outputs: ["hf"]),
                       Node(name: "head", opType: "MatMul", inputs: ["hf", "fc"], outputs: ["y"])]
        graph.outputs = [ValueInfo(name: "y", type: nil)]
        try FileManager.default.createDirectory(atPath: CBackendTests.workRoot, withIntermediateDirectories: true)
        let path = CBackendTests.workDirectory("recurrent.npz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NPZArchive.write([("x", try Tensor(floats: (0..<8 * steps * features).map { cos(Float($0) * 0.21) }, shape: [8, steps, 1, features]))], to: path)
        let analyzed = try ModelLoader.analyze(Model(opsets: ["": 14], graph: graph), path: "recurrent.onnx")
        let (result, samples) = try ModelQuantizer.quantize(analyzed, calibration: path)
        let report = try QuantizationReport.evaluate(result, samples: samples, labels: nil)
        #expect(report.leftInFloat.contains("lstm (LSTM): no integer kernel for LSTM"), "\(report.leftInFloat)")
        #expect(report.integerMACs == hidden * 3 && report.totalMACs > 10 * report.integerMACs, "\(report.integerMACs) of \(report.totalMACs)")
        #expect(report.text.contains("warning: less than half"))
    }
}
