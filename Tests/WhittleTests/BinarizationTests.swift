import Foundation
import Testing
import WhittleBinarization
import WhittleInterpreter
import WhittleIR
import WhittleKit
import WhittleONNX
import WhittleOps
import WhittlePasses

/// Binarization: the rewrite, the forms of binarized models made elsewhere, and XNOR/popcount C
/// that equals the interpreter's popcount arithmetic bit for bit, on the host and under QEMU.
struct BinarizationTests {
    /// How a test model binarizes the convolution's input.
    enum InputForm: String, CaseIterable, CustomStringConvertible {
        case float, whittle, sign, bipolar
        var description: String { rawValue }
    }

    /// One 3×3 convolution (padding 1) on a [1, C, size, size] input, its weights ±α per channel.
    static func convModel(channels: Int, outputs: Int, size: Int, form: InputForm, binaryWeights: Bool = true) throws -> Model {
        var rng = SeededGenerator(seed: 7)
        var graph = Graph(name: "conv")
        graph.inputs = [ValueInfo(name: "x", type: TensorType(.float, [1, channels, size, size]))]
        let count = outputs * channels * 9
        var weights = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
        if binaryWeights {
            weights = weights.enumerated().map { i, v in Float(i / (channels * 9) + 1) * 0.125 * (v >= 0 ? 1 : -1) }
        }
        graph.initializers["w"] = try Tensor(floats: weights, shape: [outputs, channels, 3, 3])
        graph.initializers["b"] = try Tensor(floats: (0..<outputs).map { Float($0) * 0.25 - 1 }, shape: [outputs])
        var input = "x"
        var opsets = ["": 13]
        switch form {
        case .float: break
        case .whittle:
            graph.initializers["zero"] = try Tensor(floats: [0], shape: [])
            graph.initializers["high"] = try Tensor(floats: [0.5], shape: [])
            graph.initializers["low"] = try Tensor(floats: [-0.5], shape: [])
            graph.nodes += [Node(name: "ge", opType: "GreaterOrEqual", inputs: ["x", "zero"], outputs: ["c"]),
                            Node(name: "where", opType: "Where", inputs: ["c", "high", "low"], outputs: ["xb"])]
            input = "xb"
        case .sign:
            graph.nodes.append(Node(name: "sign", opType: "Sign", inputs: ["x"], outputs: ["xb"]))
            input = "xb"
        case .bipolar:
            graph.initializers["s"] = try Tensor(floats: [2], shape: [])
            graph.nodes.append(Node(name: "bipolar", opType: "BipolarQuant", domain: WhittleBinaryOperators.qonnxDomain,
                                    inputs: ["x", "s"], outputs: ["xb"]))
            opsets[WhittleBinaryOperators.qonnxDomain] = 1
            input = "xb"
        }
        graph.nodes.append(Node(name: "conv", opType: "Conv", inputs: [input, "w", "b"], outputs: ["y"],
                                attributes: ["pads": .ints([1, 1, 1, 1]), "kernel_shape": .ints([3, 3])]))
        graph.outputs = [ValueInfo(name: "y", type: nil)]
        return Model(opsets: opsets, graph: graph)
    }

    /// Inputs with exact zeros among them (to tell sign(0) = +1 from ONNX Sign's 0).
    static func inputs(_ graph: Graph) -> [String: NDArray] {
        var inputs = ModelVerifier.randomInputs(for: graph, seed: 11)
        for (name, value) in inputs {
            inputs[name] = NDArray(.float, shape: value.shape, floats: value.floats.enumerated().map { $0 % 5 == 0 ? 0 : $1 })
        }
        return inputs
    }

    /// Float inputs with ±α weights become a 1-bit-weight kernel; binarized inputs an XNOR/popcount one.
    @Test(arguments: InputForm.allCases)
    func binarizedFormsFuseAndComputeTheSameValues(form: InputForm) throws {
        let model = try Self.convModel(channels: 40, outputs: 6, size: 7, form: form)
        let (fused, types) = try PassPipeline.standard.run(model)
        let op = form == .float ? "BinaryWeightConv" : "BinaryConv"
        let binary = try #require(fused.graph.nodes.first { $0.opType == op }, "\(form): not fused")
        if form != .float { #expect(binary.attributes["ternary"] == .int(form == .sign ? 1 : 0)) }
        let inputs = Self.inputs(model.graph)
        let reference = try Interpreter(model: model, inference: try ShapeInference.run(model)).run(inputs)["y"]?.floats ?? []
        let actual = try Interpreter(model: fused, inference: types).run(inputs)["y"]?.floats ?? []
        #expect(reference.count == 6 * 49 && ChannelPruningTests.close(actual, reference), "\(form)")
        // The C equals the popcount arithmetic of the interpreter exactly.
        let analyzed = try ModelLoader.analyze(model, path: "conv_\(form).onnx")
        let directory = CBackendTests.workDirectory("binary-\(form)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let results = try ModelVerifier.verify(analyzed, inputs: inputs, options: ModelVerifier.Options(), workDirectory: directory)
        #expect(results[0].maxAbsError == 0 && results.allSatisfy(\.passed), "\(results.map { "\($0.name) \($0.maxAbsError)" })")
    }

    /// Binarized shared models: C that verifies (their float layers within tolerance), weights
    /// packed, and ONNX Runtime runs the written model.
    @Test(arguments: ["digits_cnn", "digits_mlp", "kws_dscnn"])
    func binarizedModelsCompileAndRunInONNXRuntime(model: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let (binarized, layers) = try Binarizer.binarize(analyzed.model, options: BinarizationOptions())
        #expect(!layers.isEmpty)
        let changed = try ModelLoader.analyze(binarized, path: analyzed.path)
        let bundle = try ModelCompiler.compile(changed).bundle
        #expect(bundle.layers.filter { $0.op == "BinaryConv" }.count == layers.count)
        #expect(bundle.weightBytes < (try ModelCompiler.compile(analyzed)).bundle.weightBytes)
        let refs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: 0)
        let directory = CBackendTests.workDirectory("binary-\(model)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let results = try ModelVerifier.verify(changed, inputs: refs, options: ModelVerifier.Options(), workDirectory: directory)
        #expect(results.allSatisfy { $0.passed }, "\(results.map { "\($0.name) \($0.maxAbsError)" })")
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record(".venv with onnxruntime is missing") }
            return
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/binarized.onnx"
        try ModelWriter.write(binarized, to: path)
        let expected = try ONNXRuntimeCheck.firstOutput(python: python, model: path, input: try #require(refs[analyzed.graph.inputs[0].name]),
                                                        directory: directory)
        let interpreted = try Interpreter(model: changed.model, inference: changed.inference).run(refs)[changed.graph.outputs[0].name]?.floats ?? []
        #expect(ChannelPruningTests.close(interpreted, expected), "\(model): ONNX Runtime and the interpreter differ")
    }

    /// The XNOR/popcount C on the devices: Cortex-M4F (SWAR popcount), Raspberry Pi 3 and 4 (NEON).
    @Test(arguments: ["cortex-m4f", "rpi3", "rpi4"])
    func binaryConvolutionIsExactOnDevices(target: String) throws {
        guard TargetTests.emulatorsInstalled else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the cross compilers and QEMU are not installed") }
            return
        }
        let catalog = try #require(TargetTests.catalog)
        var rows: [String] = []
        for form in [InputForm.float, .whittle, .sign] {
            let model = try Self.convModel(channels: 64, outputs: 64, size: 8, form: form)
            let analyzed = try ModelLoader.analyze(model, path: "conv.onnx")
            let directory = CBackendTests.workDirectory("binary-\(target)-\(form)")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let result = try TargetVerifier.verify(analyzed, target: catalog.target(target), catalog: catalog, inputs: Self.inputs(model.graph),
                                                   tolerance: 1e-4, budgets: (nil, nil), workDirectory: directory)
            for c in result.comparisons { #expect(c.passed, "\(form) on \(target): \(c.name) \(c.maxAbsError)") }
            if form != .float { #expect(result.comparisons[0].maxAbsError == 0, "\(form) on \(target): not bit-exact") }
            rows.append("\(form) \(result.instructions.map(String.init) ?? "?")")
        }
        print("3x3 conv 64->64 on 8x8, \(target) instructions: \(rows.joined(separator: ", "))")
    }

    @Test func commandLineBinarizeAndCompile() throws {
        let directory = CBackendTests.workDirectory("binarize-cli")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try CommandLineTests.run(["binarize", TestPaths.model("digits_cnn.onnx"), "-o", directory + "/b.onnx",
                                               "--layers", "/features/features.4/Conv", "--data", TestPaths.model("digits_test.npz"), "--labels", "y"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("(1 layers as XNOR/popcount kernels, 0 with 1-bit weights and float inputs)") && result.stdout.contains("top-1 accuracy: original 99.11 %"))
        print("binarized digits_cnn: " + (result.stdout.components(separatedBy: "\n").first { $0.hasPrefix("top-1") } ?? ""))
        let compile = try CommandLineTests.run(["compile", TestPaths.model("digits_mlp.onnx"), "--binarize", "-o", directory + "/c"])
        #expect(compile.status == 0 && compile.stdout.contains("binarized 1 layers (binary inputs)"), "\(compile.stdout)\(compile.stderr)")
        for (arguments, message) in [(["--layers", "conv9"], "\"conv9\" cannot be binarized"),
                                     (["--activations", "ternary"], "activations must be binary or float")] {
            let bad = try CommandLineTests.run(["binarize", TestPaths.model("digits_cnn.onnx"), "-o", directory + "/x.onnx"] + arguments)
            #expect(bad.status == 1 && bad.stderr.contains(message), "\(arguments): \(bad.stderr)")
        }
    }
}

/// A small deterministic generator for test data.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
