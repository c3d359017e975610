import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleONNX

/// `quantize --weight-type int4` (W4A8): 4-bit symmetric per-channel weights for every layer but the
/// first and the last, written as int4 DequantizeLinear (ONNX Runtime's com.microsoft form below
/// opset 21) that ONNX Runtime runs, compiled with the 4-bit weights two per byte (unpacked in registers
/// by every kernel form: paired rows portable, DSP and NEON, tiles with NEON and x86, SDOT quads).
struct FourBitWeightTests {
    static func quantize(_ kept: Set<String>?, in directory: String) throws -> (AnalyzedModel, QuantizationResult, String) {
        let analyzed = try ModelLoader.load(path: TestPaths.model("digits_cnn.onnx"))
        let options = QuantizationOptions(weightType: .int4, int8Layers: kept)
        let (result, _) = try ModelQuantizer.quantize(analyzed, calibration: TestPaths.model("digits_calib.npz"), options: options)
        let path = directory + "/digits_cnn_w4a8.onnx"
        try ModelWriter.write(result.model, to: path)
        return (analyzed, result, path)
    }

    @Test func digitsCNNKeepsItsAccuracyAndRunsEverywhere() throws {
        let directory = CBackendTests.workDirectory("w4a8")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (analyzed, result, path) = try Self.quantize(nil, in: directory)
        // The middle convolution takes 4 bits; the first and the last layer keep 8.
        let weights = result.model.graph.initializers.filter { $0.key.hasSuffix("weight_quantized") || $0.key.hasSuffix("weight_bn_quantized") }
        #expect(weights.values.filter { $0.elementType == .int4 }.count == 1 && weights.values.filter { $0.elementType == .int8 }.count == 2,
                "\(weights.mapValues(\.elementType))")
        #expect(weights.values.allSatisfy { $0.elementType != .int4 || $0.int64s()?.allSatisfy { (-7...7).contains($0) } == true })

        // Top-1 on the labelled test set within 1.5 points of the float model.
        let samples = try SampleSet(path: TestPaths.model("digits_test.npz"), graph: analyzed.graph)
        let report = try QuantizationReport.evaluate(result, samples: samples, labels: try samples.labels("y"))
        let accuracy = try #require(report.accuracy)
        print(String(format: "W4A8 digits_cnn: top-1 %.2f %% against %.2f %% in float", accuracy.quantizedTop1 * 100, accuracy.floatTop1 * 100))
        #expect(accuracy.floatTop1 - accuracy.quantizedTop1 <= 0.015)

        // Written below opset 21, the 4-bit DequantizeLinear is ONNX Runtime's com.microsoft form, which it runs;
        // the interpreter agrees with it within one step.
        let written = try ONNXReader.read(path: path)
        #expect(written.opsets["com.microsoft"] != nil)
        if let python = QuantizerTests.python {
            let (_, _, worst) = try Deployed.againstONNXRuntime(try ModelLoader.load(path: path), path: path,
                                                                refs: TestPaths.model("digits_cnn.refs.npz"), python: python, directory: directory)
            #expect(worst <= 1.0 + 1e-6)
        } else if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil {
            Issue.record("the test venv with onnxruntime is missing")
        }

        // The C computes what the interpreter does, on the host and on devices with each kernel form.
        try Deployed.expectCEqualsInterpreter(try ModelLoader.load(path: path), path: path, directory: directory,
                                              targets: Self.everyWeightForm)

        // The 4-bit layer's weights are stored two per byte; the others keep a byte each; with
        // `--optimize speed` on a DSP core every layer takes the int16 layout.
        let catalog = try #require(TargetTests.catalog)
        for (target, speed) in [("cortex-m4f", false), ("rpi5", false), ("host", false), ("cortex-m4f", true)] {
            var options = CompileOptions()
            options.goal = speed ? .speed : .size
            options.adopt(try catalog.target(target))
            let report = CompileReport(try ModelCompiler.compile(try ModelLoader.load(path: path), options: options))
            let bits = report.layers.compactMap(\.weightBits)
            #expect(bits.count == 3 && bits.filter { $0 == 4 }.count == (speed ? 0 : 1), "\(target): \(bits)")
            let summary = report.int8Weights ?? ""
            #expect(summary.hasPrefix(speed ? "2 bytes per weight" : "4 bits per weight, two per byte, in 1 of 3 layers"), "\(target): \(summary)")
        }
    }

    /// kws_dscnn with every layer at 4 bits: every convolution, depthwise ones included, and the matrix
    /// product store their weights two per byte, at most 0.16 of the float weights' bytes, and the C
    /// equals the interpreter with each kernel form.
    @Test func kwsWithEveryLayerAtFourBitsTakesASixthOfTheFloatBytes() throws {
        let directory = CBackendTests.workDirectory("w4a8-kws")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let float = try ModelLoader.load(path: TestPaths.model("kws_dscnn.onnx"))
        let options = QuantizationOptions(weightType: .int4, int8Layers: [])
        let (result, _) = try ModelQuantizer.quantize(float, calibration: TestPaths.model("kws_dscnn.refs.npz"), options: options)
        let path = directory + "/kws_w4a8.onnx"
        try ModelWriter.write(result.model, to: path)
        let analyzed = try ModelLoader.load(path: path)
        let catalog = try #require(TargetTests.catalog)
        for target in ["cortex-m4f", "rpi4", "host"] {
            var compile = CompileOptions()
            compile.adopt(try catalog.target(target))
            let report = CompileReport(try ModelCompiler.compile(analyzed, options: compile))
            var floatOptions = CompileOptions()
            floatOptions.adopt(try catalog.target(target))
            let floatBytes = CompileReport(try ModelCompiler.compile(float, options: floatOptions)).weightBytes
            let bits = report.layers.compactMap(\.weightBits)
            #expect(bits.count == 10 && bits.allSatisfy { $0 == 4 }, "\(target): \(bits)")
            #expect(Double(report.weightBytes) <= 0.16 * Double(floatBytes), "\(target): \(report.weightBytes) B against \(floatBytes) B in float")
        }
        try Deployed.expectCEqualsInterpreter(analyzed, path: path, directory: directory, targets: Self.everyWeightForm)
    }

    /// Targets whose C reads 4-bit weights with a different kernel form (see the suite's summary).
    static let everyWeightForm = ["rp2040", "cortex-m4f", "rpi3", "rpi4", "rpi5"]

    @Test func everyLayerCanTakeFourBitsAndOptionsAreChecked() throws {
        let directory = CBackendTests.workDirectory("w4a8-all")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, result, _) = try Self.quantize([], in: directory)
        let weights = result.model.graph.initializers.filter { $0.key.contains("weight") && $0.key.hasSuffix("_quantized") }
        #expect(weights.count == 3 && weights.values.allSatisfy { $0.elementType == .int4 })
        let model = TestPaths.model("digits_cnn.onnx"), calibration = TestPaths.model("digits_calib.npz")
        for (arguments, message) in [(["--weight-type", "int2"], "--weight-type must be int8 or int4"),
                                     (["--int8-layers", "x"], "--int8-layers is used with --weight-type int4")] {
            let bad = try CommandLineTests.run(["quantize", model, "--calibration", calibration, "-o", directory + "/x.onnx"] + arguments)
            #expect(bad.status == 1 && bad.stderr.contains(message), "\(bad.stderr)")
        }
    }
}
