import Foundation
import Testing
import WhittleIR
import WhittleInterpreter
import WhittleKit
import WhittleNumPy
import WhittlePasses

/// The optimization passes keep every bundled model's results (interpreter before vs after).
struct PassTests {
    static let floatModels = ["ad_autoencoder", "digits_cnn", "digits_mlp", "ic_resnet8", "kws_dscnn", "vww_mobilenet_v1_025"]

    @Test(arguments: floatModels + ["digits_cnn_int8_qdq", "kws_dscnn_int8_qdq", "ic_resnet8_int8_qdq"])
    func optimizedModelComputesTheSame(model name: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(name).onnx"))
        let (optimized, types) = try PassPipeline.standard.run(analyzed.model)
        let before = try Interpreter(model: analyzed.model, inference: analyzed.inference)
        let after = try Interpreter(model: optimized, inference: types)
        let refs = try NPZArchive(path: TestPaths.model("\(name).refs.npz"))
        let input = NDArray(try refs.array("in_0"))
        let shape = Array(input.shape.dropFirst())
        let feed = [analyzed.graph.inputs[0].name: input.gathered(Array(0..<shape.reduce(1, *)), shape: shape)]
        let expected = try before.run(feed), got = try after.run(feed)
        for (key, value) in expected {
            let g = try #require(got[key]).floats
            for (a, b) in zip(g, value.floats) { #expect(abs(a - b) <= 1e-4 * max(1, abs(b)), "\(name) \(key)") }
        }
        #expect(optimized.graph.nodes.count <= analyzed.graph.nodes.count)
    }

    @Test func batchNormalizationAndActivationsAreFolded() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("digits_cnn.onnx"))
        var ran: [String] = []
        let (optimized, _) = try PassPipeline.standard.run(analyzed.model) { name, _, _ in ran.append(name) }
        #expect(ran == PassPipeline.standard.passes.map(\.name))
        let ops = optimized.graph.nodes.map(\.opType)
        #expect(ops == ["Conv", "MaxPool", "Conv", "MaxPool", "Flatten", "Gemm"])
        #expect(optimized.graph.nodes[0].attributes[WhittleAttribute.activation] == .string("Relu"))
        #expect(optimized.graph.nodes[5].attributes["transB"] == .int(0))
        #expect(optimized.graph.nodes[4].attributes[WhittleAttribute.alias] == .int(1))
    }

    @Test func passesCanBeDisabled() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("digits_cnn.onnx"))
        let (optimized, _) = try PassPipeline.standard.run(analyzed.model, disabled: ["fold-batchnorm", "fuse-activation"])
        #expect(optimized.graph.nodes.map(\.opType).filter { $0 == "BatchNormalization" }.count == 2)
        #expect(optimized.graph.nodes.map(\.opType).filter { $0 == "Relu" }.count == 2)
        let error = expectWhittleError { _ = try PassPipeline.standard.run(analyzed.model, disabled: ["no-such-pass"]) }
        #expect(error?.kind == .usage)
    }

    @Test func constantsAndIdentitiesFold() throws {
        // x + (Constant 2 * Constant 3) through an Identity: one Add remains, reading a folded initializer.
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", type: TensorType(.float, [2]))],
                          outputs: [ValueInfo(name: "y", type: nil)])
        graph.nodes = [
            Node(name: "c2", opType: "Constant", inputs: [], outputs: ["two"], attributes: ["value_float": .float(2)]),
            Node(name: "c3", opType: "Constant", inputs: [], outputs: ["three"], attributes: ["value_float": .float(3)]),
            Node(name: "m", opType: "Mul", inputs: ["two", "three"], outputs: ["six"]),
            Node(name: "i", opType: "Identity", inputs: ["x"], outputs: ["xi"]),
            Node(name: "a", opType: "Add", inputs: ["xi", "six"], outputs: ["y"]),
            Node(name: "unused", opType: "Relu", inputs: ["x"], outputs: ["dead"]),
        ]
        let (optimized, _) = try PassPipeline.standard.run(Model(graph: graph))
        #expect(optimized.graph.nodes.map(\.name) == ["a"])
        #expect(optimized.graph.nodes[0].inputs == ["x", "six"])
        #expect(optimized.graph.initializers["six"]?.floats() == [6])
        #expect(optimized.graph.initializers.count == 1)
    }
}

/// Every pass can be turned off without breaking compilation (the README's promise).
struct DisabledPassTests {
    @Test(arguments: PassPipeline.standard.passes.map(\.name))
    func compilesWithThePassDisabled(pass: String) throws {
        for path in [TestPaths.fixture("constants.onnx"), TestPaths.model("digits_cnn_int8_qdq.onnx"), TestPaths.model("digits_cnn.onnx")] {
            let analyzed = try ModelLoader.load(path: path)
            let directory = CBackendTests.workDirectory("disabled-\(pass)-\(URL(fileURLWithPath: path).lastPathComponent)")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var options = ModelVerifier.Options()
            options.sanitize = false
            options.compile = CompileOptions(disabledPasses: [pass])
            let results = try ModelVerifier.verify(analyzed, inputs: nil, options: options, workDirectory: directory)
            #expect(results.allSatisfy { $0.passed }, "\(pass) off, \(path): \(results.map { "\($0.name) \($0.maxAbsError)" })")
        }
    }
}
