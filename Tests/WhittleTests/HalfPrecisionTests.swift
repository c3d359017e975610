import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleONNX

/// float16 and bfloat16 models in C: 16-bit storage for inputs, outputs, weights and data movement,
/// float arithmetic between conversions (the library's round-to-nearest-even), on the host and on a
/// Cortex-M4F, against the interpreter.
struct HalfPrecisionTests {
    /// A small convolutional classifier entirely in `type`: Conv, Relu, pooling, a reshape, Gemm, Softmax.
    static func model(_ type: ElementType) throws -> Model {
        var rng = SeededGenerator(seed: 16)
        func weights(_ shape: [Int], _ scale: Double) throws -> Tensor {
            try Tensor(doubles: (0..<shape.reduce(1, *)).map { _ in Double.random(in: -scale...scale, using: &rng) }, shape: shape, as: type)
        }
        var graph = Graph(name: "half", inputs: [ValueInfo(name: "x", type: TensorType(type, [1, 3, 8, 8]))])
        graph.initializers = ["w": try weights([6, 3, 3, 3], 0.4), "b": try weights([6], 0.1),
                              "fc": try weights([6, 4], 0.5), "fc_b": try weights([4], 0.1),
                              "shape": try Tensor(int64s: [1, 6], shape: [2])]
        graph.nodes = [
            Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"], attributes: ["pads": .ints([1, 1, 1, 1])]),
            Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"]),
            Node(name: "pool", opType: "GlobalAveragePool", inputs: ["r"], outputs: ["p"]),
            Node(name: "flat", opType: "Reshape", inputs: ["p", "shape"], outputs: ["f"]),
            Node(name: "fc", opType: "Gemm", inputs: ["f", "fc", "fc_b"], outputs: ["logits"]),
            Node(name: "softmax", opType: "Softmax", inputs: ["logits"], outputs: ["probs"]),
        ]
        graph.outputs = [ValueInfo(name: "probs", type: nil), ValueInfo(name: "f", type: nil)]
        return Model(opsets: ["": 13], graph: graph)
    }

    static func input(_ type: ElementType) throws -> NDArray {
        var rng = SeededGenerator(seed: 61)
        return NDArray(type, shape: [1, 3, 8, 8], values: (0..<192).map { _ in Double.random(in: -1...1, using: &rng) })
    }

    @Test(arguments: [ElementType.float16, .bfloat16], ["gcc", "clang"])
    func cMatchesTheInterpreterOnTheHost(type: ElementType, compiler: String) throws {
        let directory = CBackendTests.workDirectory("half-\(type.name)-\(compiler)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/model.onnx"
        try ONNXWriter.write(try Self.model(type), to: path)
        let analyzed = try ModelLoader.load(path: path)
        var options = ModelVerifier.Options()
        options.compiler = compiler
        for c in try ModelVerifier.verify(analyzed, inputs: ["x": try Self.input(type)], options: options, workDirectory: directory + "/c") {
            #expect(c.passed, "\(type.name) (\(compiler)): \(c.name) max abs error \(c.maxAbsError)")
        }
        // The header keeps the model's 16-bit interface; conversions come from the kernel library.
        let compiled = try ModelCompiler.compile(analyzed)
        #expect(compiled.bundle.header.contains("const uint16_t *"))
        let conversions = type == .float16 ? ["whittle_f16_to_f32", "whittle_f32_to_f16"] : ["whittle_bf16_to_f32", "whittle_f32_to_bf16"]
        #expect(Set(compiled.bundle.layers.flatMap(\.kernels)).isSuperset(of: conversions))
    }

    @Test(arguments: [ElementType.float16, .bfloat16])
    func cMatchesTheInterpreterOnCortexM4F(type: ElementType) throws {
        guard TargetTests.emulatorsInstalled, let catalog = TargetTests.catalog else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("QEMU or a cross compiler is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("half-\(type.name)-m4f")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/model.onnx"
        try ONNXWriter.write(try Self.model(type), to: path)
        let analyzed = try ModelLoader.load(path: path)
        let result = try TargetVerifier.verify(analyzed, target: try catalog.target("cortex-m4f"), catalog: catalog, inputs: ["x": try Self.input(type)],
                                               tolerance: 1e-4, budgets: (nil, nil), workDirectory: directory + "/target")
        for c in result.comparisons { #expect(c.passed, "\(type.name) on cortex-m4f: \(c.name) max abs error \(c.maxAbsError)") }
    }
}
