import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleONNX
import WhittleOps
import WhittlePasses
import WhittleInterpreter

/// `quantize --activations int16` (the 16×8 scheme): int16 activations, symmetric with zero point 0,
/// int8 weights; Relu kept before the quantizer and fused by the compiler as a clamp; integer layers
/// on the library's 16-bit paths where every sum fits int32, and in int64 generated loops where it
/// may not. The C equals the interpreter bit for bit on the host and on devices.
struct SixteenBitActivationTests {
    /// kws_dscnn without its Softmax, so that the model's output is the last integer layer's, dequantized.
    static func kwsLogits() throws -> AnalyzedModel {
        var model = try ModelLoader.load(path: TestPaths.model("kws_dscnn.onnx")).model
        let softmax = try #require(model.graph.nodes.lastIndex { $0.opType == "Softmax" })
        let logits = model.graph.nodes[softmax].inputs[0]
        model.graph.nodes.remove(at: softmax)
        model.graph.outputs = [ValueInfo(name: logits, type: nil)]
        return try ModelLoader.analyze(model, path: "kws_dscnn_logits.onnx")
    }

    /// The model with its activations' QuantizeLinear → DequantizeLinear pairs taken out: only the
    /// weights keep their quantization error (the error 16-bit activations should come close to).
    static func weightsOnly(_ model: Model) -> Model {
        var model = model
        let producers = Dictionary(model.graph.nodes.flatMap { n in n.outputs.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        var bypass: [String: String] = [:]
        for node in model.graph.nodes where node.opType == "DequantizeLinear" {
            if let q = producers[node.inputs[0]], q.opType == "QuantizeLinear" { bypass[node.outputs[0]] = q.inputs[0] }
        }
        let outputs = Set(model.graph.outputs.map(\.name))
        model.graph.nodes = model.graph.nodes.compactMap { node in
            if let source = bypass[node.outputs.first ?? ""] {
                return outputs.contains(node.outputs[0]) ? Node(name: node.name, opType: "Identity", inputs: [source], outputs: node.outputs) : nil
            }
            var node = node
            node.inputs = node.inputs.map { bypass[$0] ?? $0 }
            return node
        }
        return model
    }

    /// SQNR (dB) of the first output of each model against `float`'s over the samples of `refs`, as compiled.
    static func sqnr(_ models: [Model], float: Model, refs: String) throws -> [Double] {
        let runs = try ([float] + models).map { model -> Interpreter in
            let (optimized, types) = try PassPipeline.standard.run(model)
            return try Interpreter(model: optimized, inference: types)
        }
        let samples = try SampleSet(path: refs, graph: float.graph)
        var signal = 0.0, noise = Array(repeating: 0.0, count: models.count)
        let output = float.graph.outputs[0].name
        for i in 0..<samples.count {
            let inputs = try samples.sample(i)
            let reference = try #require(try runs[0].run(inputs)[output]).doubles
            signal += reference.reduce(0) { $0 + $1 * $1 }
            for (k, run) in runs.dropFirst().enumerated() {
                let got = try #require(try run.run(inputs)[output]).doubles
                noise[k] += zip(got, reference).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            }
        }
        return noise.map { 10 * log10(signal / $0) }
    }

    /// A16W8 against W8 with float activations and against A8W8: within 1 dB of the first, above the second.
    static func expectSixteenBitsPay(_ float: AnalyzedModel, refs: String, name: String) throws -> QuantizationResult {
        let (a16, _) = try ModelQuantizer.quantize(float, calibration: refs, options: QuantizationOptions(activationType: .int16))
        let (a8, _) = try ModelQuantizer.quantize(float, calibration: refs, options: QuantizationOptions(activationType: .int8))
        let decibels = try sqnr([a16.model, weightsOnly(a16.model), a8.model], float: a16.floatModel, refs: refs)
        print(String(format: "%@: SQNR A16W8 %.2f dB, W8 with float activations %.2f dB, A8W8 %.2f dB", name, decibels[0], decibels[1], decibels[2]))
        #expect(decibels[0] >= decibels[1] - 1 && decibels[0] > decibels[2], "\(name): \(decibels)")
        return a16
    }

    @Test func kwsWithSixteenBitActivationsIsBitExactOnDevices() throws {
        let directory = CBackendTests.workDirectory("a16w8-kws")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let a16 = try Self.expectSixteenBitsPay(try Self.kwsLogits(), refs: TestPaths.model("kws_dscnn.refs.npz"), name: "kws_dscnn")
        // Every activation is int16 with zero point 0, and the Relus stay between the layers and their quantizers.
        let zeros = a16.model.graph.nodes.filter { $0.opType == "QuantizeLinear" }.map { a16.model.graph.initializers[$0.inputs[2]] }
        #expect(!zeros.isEmpty && zeros.allSatisfy { $0?.elementType == .int16 && $0?.int64s() == [0] })
        #expect(a16.model.graph.nodes.filter { $0.opType == "Relu" }.count == 9)
        let path = directory + "/kws_a16w8.onnx"
        try ModelWriter.write(a16.model, to: path)

        // Compiled, every layer is an integer operator on int16 with its Relu as a clamp at zero.
        let (compiled, types) = try PassPipeline.standard.run(try ModelLoader.load(path: path).model)
        let layers = compiled.graph.nodes.filter { ["QLinearConv", "QGemm"].contains($0.opType) }
        #expect(layers.count == 10 && layers.allSatisfy { types.graph.type(of: $0.inputs[0])?.elementType == .int16 })
        #expect(!compiled.graph.nodes.contains { $0.opType == "Relu" || $0.opType == "Conv" || $0.opType == "Gemm" })
        #expect(layers.filter { $0.attributes[WhittleAttribute.clampLow] == .int(0) }.count == 9)

        // On a DSP core the library takes every layer: the paired rows and the 16-bit depthwise kernel.
        let catalog = try #require(TargetTests.catalog)
        var options = CompileOptions()
        options.adopt(try catalog.target("cortex-m4f"))
        let report = CompileReport(try ModelCompiler.compile(try ModelLoader.load(path: path), options: options))
        let kernels = Set(report.layers.flatMap(\.kernels))
        #expect(kernels == ["whittle_depthwise_s16", "whittle_conv_s16", "whittle_fully_connected_s16"],
                "\(kernels)")

        try Deployed.expectCEqualsInterpreter(try ModelLoader.load(path: path), path: path, directory: directory,
                                              targets: ["cortex-m4f", "rpi4", "rpi3", "cortex-m33"])
    }

    /// Mixed precision in one model: kws_dscnn's first convolution and one pointwise layer with int16
    /// activations, the rest int8, 4-bit weights in the middle layers, the depthwise layers' 8-bit ones:
    /// every layer an integer operator of its own types, the C bit-exact on the host and devices, and
    /// the compile report giving each layer's weight bits.
    @Test func mixedPrecisionInOneModel() throws {
        let directory = CBackendTests.workDirectory("a16w8-mixed")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sixteen: Set<String> = ["/net/net.0/net.0.1/Conv", "/net/net.5/net.5.0/Conv"]
        let options = QuantizationOptions(weightType: .int4, int16Layers: sixteen)
        let (result, _) = try ModelQuantizer.quantize(try Self.kwsLogits(), calibration: TestPaths.model("kws_dscnn.refs.npz"), options: options)
        let path = directory + "/kws_mixed.onnx"
        try ModelWriter.write(result.model, to: path)
        let (compiled, types) = try PassPipeline.standard.run(try ModelLoader.load(path: path).model)
        let layers = compiled.graph.nodes.filter { ["QLinearConv", "QGemm"].contains($0.opType) }
        #expect(layers.count == 10)
        let wide = layers.filter { types.graph.type(of: $0.outputs[0])?.elementType == .int16 }.map(\.name)
        #expect(Set(wide) == sixteen, "\(wide)")
        // The graph input is int16 (a 16-bit layer reads it), and so are the inputs of the two layers after
        // the 16-bit ones, which write int8: generated loops, exactly.
        #expect(layers.filter { types.graph.type(of: $0.inputs[0])?.elementType == .int16 }.count == 3)

        let catalog = try #require(TargetTests.catalog)
        var compileOptions = CompileOptions()
        compileOptions.adopt(try catalog.target("cortex-m4f"))
        let report = CompileReport(try ModelCompiler.compile(try ModelLoader.load(path: path), options: compileOptions))
        let bits = report.layers.compactMap(\.weightBits)
        #expect(bits.contains(4) && bits.contains(8), "\(bits)")
        try Deployed.expectCEqualsInterpreter(try ModelLoader.load(path: path), path: path, directory: directory, targets: ["cortex-m4f", "rpi4"])
    }

    @Test func autoencoderWithSixteenBitActivations() throws {
        let directory = CBackendTests.workDirectory("a16w8-ad")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let float = try ModelLoader.load(path: TestPaths.model("ad_autoencoder.onnx"))
        let a16 = try Self.expectSixteenBitsPay(float, refs: TestPaths.model("ad_autoencoder.refs.npz"), name: "ad_autoencoder")
        let path = directory + "/ad_a16w8.onnx"
        try ModelWriter.write(a16.model, to: path)
        try Deployed.expectCEqualsInterpreter(try ModelLoader.load(path: path), path: path, directory: directory, targets: ["cortex-m4f", "rpi4"])
    }

    /// A 16-bit layer whose sums leave int32 (1,024 channels of ±127 weights on inputs up to ±32,767):
    /// the library refuses it and the generated loops sum in int64, on every core (the integer-only
    /// requantization of cores without an FPU included); an int32 sum would wrap and differ.
    @Test func sumsBeyondInt32AreExact() throws {
        let directory = CBackendTests.workDirectory("a16w8-wide-sums")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let channels = 1024
        func scalar(_ type: ElementType, _ v: Int64) throws -> Tensor { try Tensor(int64s: [v], shape: [], as: type) }
        let weights = (0..<(3 * channels)).map { Int64($0 % 7 == 3 ? -127 : 127) }
        let initializers: [String: Tensor] = [
            "xs": try Tensor(floats: [1e-3], shape: []), "xz": try scalar(.int16, 0),
            "w": try Tensor(int64s: weights, shape: [3, channels, 1, 1], as: .int8), "ws": try Tensor(floats: [0.01, 0.02, 0.015], shape: [3]),
            "wz": try Tensor(int64s: [0, 0, 0], shape: [3], as: .int8), "ys": try Tensor(floats: [20], shape: []), "yz": try scalar(.int16, 0),
            "b": try Tensor(int64s: [1000, -5000, 0], shape: [3], as: .int32),
        ]
        let conv = Node(name: "wide", opType: "QLinearConv", inputs: ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], outputs: ["y"])
        let model = HostileModelTests.model([conv], inputs: [ValueInfo(name: "x", type: TensorType(.int16, [1, channels, 2, 1]))],
                                            outputs: ["y"], initializers: initializers)
        let path = directory + "/wide_sums.onnx"
        try ModelWriter.write(model, to: path)
        // Inputs near the top of the range: the first output channel sums to about 3.2e9.
        let x = NDArray(.int16, shape: [1, channels, 2, 1], ints: (0..<(2 * channels)).map { Int64($0 % 2 == 0 ? 32767 : 32000 - $0) })
        let analyzed = try ModelLoader.load(path: path)
        let compiled = try ModelCompiler.compile(analyzed)
        #expect(compiled.bundle.source.contains("int64_t acc"))
        try Deployed.expectCEqualsInterpreter(analyzed, path: path, directory: directory, inputs: ["x": x], targets: [])
        let inputs = directory + "/x.npz"
        try NPZArchive.write([("x", try x.tensor())], to: inputs)
        for target in ["cortex-m4f", "cortex-m0plus"] where TargetTests.emulatorsInstalled {
            let cli = try CommandLineTests.run(["verify", path, "--target", target, "--inputs", inputs])
            #expect(cli.status == 0 && cli.stdout.contains("max abs error 0, max ULP 0"), "\(target): \(cli.stdout) \(cli.stderr)")
        }

        // A bias given at run time may be any int32: 480 channels of +127 reach 1.998e9 alone, and a bias
        // of 2e8 takes the sum past int32, so the bound must count the bias as unknown, not as zero.
        let narrow = 480
        var runtimeBias = initializers
        runtimeBias["w"] = try Tensor(int64s: Array(repeating: 127, count: 3 * narrow), shape: [3, narrow, 1, 1], as: .int8)
        runtimeBias["b"] = nil
        let biased = HostileModelTests.model([conv], inputs: [ValueInfo(name: "x", type: TensorType(.int16, [1, narrow, 2, 1])),
                                                              ValueInfo(name: "b", type: TensorType(.int32, [3]))],
                                             outputs: ["y"], initializers: runtimeBias)
        let biasedPath = directory + "/runtime_bias.onnx"
        try ModelWriter.write(biased, to: biasedPath)
        let full = NDArray(.int16, shape: [1, narrow, 2, 1], ints: Array(repeating: 32767, count: 2 * narrow))
        let bias = NDArray(.int32, shape: [3], ints: [200_000_000, -200_000_000, 0])
        try Deployed.expectCEqualsInterpreter(try ModelLoader.load(path: biasedPath), path: biasedPath, directory: directory + "/biased",
                                              inputs: ["x": full, "b": bias], targets: [])
    }
}
