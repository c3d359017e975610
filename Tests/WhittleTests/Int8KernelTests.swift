import Foundation
import Testing
import WhittleCodegen
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleONNX

/// The int8 library kernels (`conv_s8.c`) inside whole models: a network of layers with awkward
/// shapes (27 taps, odd channel counts, a depthwise layer with stride 2 and one on a 5-wide map,
/// a pointwise layer with 5 channels, a fully connected layer of 150 inputs), quantized by
/// Whittle, compiled, and run on the host (paired and tiled layouts), on a Cortex-M4F (the SMLAD
/// path), on a Cortex-M0+ (portable loops, integer-only requantization) and on a Raspberry Pi 4
/// (the NEON tiles): every output equals the interpreter's.
struct Int8KernelTests {
    /// x [1, 3, 9, 10] → 3×3 conv to 5 → ReLU → depthwise 3×3 stride 2 → pointwise to 7 →
    /// ReLU → depthwise 3×3 on 5×5 → Flatten → Gemm to 10.
    static func model() throws -> Model {
        var rng = SeededGenerator(seed: 11)
        func tensor(_ shape: [Int], scale: Float = 0.5) throws -> Tensor {
            try Tensor(floats: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -scale...scale, using: &rng) }, shape: shape)
        }
        var graph = Graph(name: "edges")
        graph.inputs = [ValueInfo(name: "x", type: TensorType(.float, [1, 3, 9, 10]))]
        graph.initializers = [
            "w1": try tensor([5, 3, 3, 3]), "b1": try tensor([5]),
            "w2": try tensor([5, 1, 3, 3]), "b2": try tensor([5]),
            "w3": try tensor([7, 5, 1, 1]), "b3": try tensor([7]),
            "w4": try tensor([7, 1, 3, 3]), "b4": try tensor([7]),
            "w5": try tensor([10, 7 * 5 * 5], scale: 0.2), "b5": try tensor([10]),
        ]
        let three: [String: Attribute] = ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])]
        graph.nodes = [
            Node(name: "conv", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c1"], attributes: three),
            Node(name: "relu1", opType: "Relu", inputs: ["c1"], outputs: ["r1"]),
            Node(name: "depthwise_s2", opType: "Conv", inputs: ["r1", "w2", "b2"], outputs: ["c2"],
                 attributes: three.merging(["group": .int(5), "strides": .ints([2, 2])]) { $1 }),
            Node(name: "pointwise", opType: "Conv", inputs: ["c2", "w3", "b3"], outputs: ["c3"], attributes: ["kernel_shape": .ints([1, 1])]),
            Node(name: "relu3", opType: "Relu", inputs: ["c3"], outputs: ["r3"]),
            Node(name: "depthwise", opType: "Conv", inputs: ["r3", "w4", "b4"], outputs: ["c4"], attributes: three.merging(["group": .int(7)]) { $1 }),
            Node(name: "flatten", opType: "Flatten", inputs: ["c4"], outputs: ["f"]),
            Node(name: "fc", opType: "Gemm", inputs: ["f", "w5", "b5"], outputs: ["y"], attributes: ["transB": .int(1)]),
        ]
        graph.outputs = [ValueInfo(name: "y", type: nil)]
        return Model(opsets: ["": 13], graph: graph)
    }

    /// The model quantized to int8 by Whittle (calibrated on 16 random inputs), and one input.
    static func quantized(in directory: String) throws -> (AnalyzedModel, [String: NDArray]) {
        let path = directory + "/edges.onnx", calibration = directory + "/calibration.npz"
        try ONNXWriter.write(try model(), to: path)
        var rng = SeededGenerator(seed: 5)
        let samples = try Tensor(floats: (0..<(16 * 270)).map { _ in Float.random(in: -1...1, using: &rng) }, shape: [16, 3, 9, 10])
        try NPZArchive.write([("x", samples)], to: calibration)
        let analyzed = try ModelLoader.load(path: path)
        let (result, _) = try ModelQuantizer.quantize(analyzed, calibration: calibration)
        let quantizedPath = directory + "/edges_int8.onnx"
        try ONNXWriter.write(result.model, to: quantizedPath)
        let input = try Tensor(floats: (0..<270).map { _ in Float.random(in: -1...1, using: &rng) }, shape: [1, 3, 9, 10])
        return (try ModelLoader.load(path: quantizedPath), ["x": NDArray(input)])
    }

    @Test func awkwardShapesMatchTheInterpreterOnTheHost() throws {
        let directory = CBackendTests.workDirectory("int8-edges-host")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (analyzed, inputs) = try Self.quantized(in: directory)
        let compiled = try ModelCompiler.compile(analyzed)
        // Every convolution and the Gemm run on the library kernels.
        #expect(compiled.bundle.source.components(separatedBy: "whittle_conv_s8(&g").count - 1 == 2)
        #expect(compiled.bundle.source.components(separatedBy: "whittle_depthwise_s8(&g").count - 1 == 2)
        #expect(compiled.bundle.source.contains("whittle_fully_connected_s8(1, 175, 10,"))
        // The compile report names each layer's kernel.
        let report = CompileReport(compiled)
        #expect(report.layers.filter { $0.kernels == ["whittle_conv_s8"] }.count == 2)
        #expect(report.layers.filter { $0.kernels == ["whittle_depthwise_s8"] }.count == 2)
        #expect(report.markdown().contains("| `whittle_fully_connected_s8` |"))
        let comparisons = try ModelVerifier.verify(analyzed, inputs: inputs, options: .init(), workDirectory: directory + "/c")
        for c in comparisons where c.decides { #expect(c.passed && c.maxAbsError == 0, "\(c.name): \(c.maxAbsError)") }
    }

    /// The tiled layouts' host variants (the twins of the AArch64 NEON and SDOT kernels) in the whole model.
    @Test(arguments: [WeightLayout.tiles, .dotTiles])
    func tiledKernelsMatchTheInterpreterOnTheHost(layout: WeightLayout) throws {
        let directory = CBackendTests.workDirectory("int8-edges-tiles-\(layout)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (analyzed, inputs) = try Self.quantized(in: directory)
        var options = ModelVerifier.Options()
        options.compile.codegen.weightLayout = layout
        let compiled = try ModelCompiler.compile(analyzed, options: options.compile)
        let report = CompileReport(compiled)
        #expect(report.layers.filter { $0.kernels == ["whittle_conv_s8_tiles"] }.count == 2)
        // The stride-2 depthwise layer keeps the general kernel; the 3×3 one on 5×5 with padding 1 is flat.
        #expect(report.layers.filter { $0.kernels == ["whittle_depthwise_s8"] }.count == 1)
        #expect(report.layers.filter { $0.kernels == ["whittle_depthwise3x3_s8_flat"] }.count == 1)
        #expect(compiled.bundle.source.contains("whittle_fully_connected_s8_tiles(1, 175, 10,"))
        let comparisons = try ModelVerifier.verify(analyzed, inputs: inputs, options: options, workDirectory: directory + "/c")
        for c in comparisons where c.decides { #expect(c.passed && c.maxAbsError == 0, "\(c.name): \(c.maxAbsError)") }
    }

    /// Every target's default form (int8 weights, one byte each), and the DSP targets' int16 copies
    /// (`goal` speed).
    @Test(arguments: [("cortex-m4f", OptimizationGoal.size), ("cortex-m4f", .speed), ("rp2040", .size), ("rpi4", .size), ("rpi5", .size)])
    func awkwardShapesMatchTheInterpreterOnDevices(target: String, goal: OptimizationGoal) throws {
        guard TargetTests.emulatorsInstalled else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the cross compilers and QEMU are not installed") }
            return
        }
        let catalog = try #require(TargetTests.catalog)
        let directory = CBackendTests.workDirectory("int8-edges-\(target)-\(goal)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (analyzed, inputs) = try Self.quantized(in: directory)
        var options = CompileOptions()
        options.goal = goal
        let device = try catalog.target(target)
        let result = try TargetVerifier.verify(analyzed, target: device, catalog: catalog, inputs: inputs, tolerance: 0,
                                               budgets: (nil, nil), workDirectory: directory + "/c", compile: options)
        options.adopt(device)
        let wide = goal == .speed && device.features.contains("dsp")
        #expect(CompileReport(try ModelCompiler.compile(analyzed, options: options)).int8Weights?.hasPrefix(wide ? "2 bytes per weight" : "1 byte per weight") == true)
        for c in result.comparisons where c.decides { #expect(c.passed && c.maxAbsError == 0, "\(target) \(c.name): \(c.maxAbsError)") }
        #expect(!result.comparisons.isEmpty && result.instructions != nil)
        // The symbol table splits the model's flash into code and weights (padded rows included).
        #expect(result.modelCode > 0 && result.modelWeights >= 5 * 28 + 5 * 9 + 7 * 8 + 7 * 9 + 10 * 176)
        print("int8 edge model on \(target): text \(result.text) B, code \(result.modelCode) B, weights \(result.modelWeights) B, "
              + "\(result.instructions.map(String.init) ?? "?") instructions")
    }
}
