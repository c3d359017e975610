import Foundation
import Testing
import WhittleInterpreter
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleONNX
import WhittleOps
import WhittlePruning

/// Structured pruning: removed channels disappear from producers and from every reader, coupled
/// channels go together, and the smaller model computes what the original computes when its
/// readers ignore the removed channels (the oracle: the original with those reader weights zeroed).
struct ChannelPruningTests {
    static func run(_ model: Model, _ inputs: [String: NDArray]) throws -> [Float] {
        let types = try ShapeInference.run(model)
        let out = try Interpreter(model: model, inference: types).run(inputs)
        return try #require(out[model.graph.outputs[0].name]).floats
    }

    static func close(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }
    }

    /// Sets to zero the slices `indices` (each `block` wide) of dimension `dimension` of an initializer.
    static func zeroSlices(_ graph: inout Graph, _ name: String, dimension: Int, indices: [Int], block: Int = 1) throws {
        let tensor = try #require(graph.initializers[name])
        var values = tensor.floats()
        let inner = tensor.shape[(dimension + 1)...].reduce(1, *), size = tensor.shape[dimension]
        let gone = Set(indices.flatMap { ($0 * block)..<(($0 + 1) * block) })
        for i in values.indices where gone.contains((i / inner) % size) { values[i] = 0 }
        graph.initializers[name] = try Tensor(floats: values, shape: tensor.shape)
    }

    @Test func digitsCNNLosesChannelsThroughBatchNormPoolAndFlatten() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("digits_cnn.onnx"))
        let (pruned, groups) = try ChannelPruner.prune(analyzed.model, options: PruningOptions(sparsity: 0.5), criterion: .l2)
        let group = try #require(groups.first { $0.keptBecause == nil })
        #expect(group.layers == ["/features/features.4/Conv"] && group.channelsBefore == 16 && group.channelsAfter == 8)
        #expect(groups.first { $0.layers == ["/features/features.0/Conv"] }?.keptBecause == "kept as asked")
        #expect(groups.first { $0.layers == ["/fc/Gemm"] }?.keptBecause == "a graph output")
        // The removed channels are those of smallest L2 norm.
        let conv = try #require(analyzed.graph.nodes.first { $0.name == "/features/features.4/Conv" })
        let norms = ChannelPruner.norms(try #require(analyzed.graph.initializers[conv.inputs[1]]), dimension: 0, criterion: .l2)
        let kept = Set(0..<16).subtracting(group.removed)
        #expect(group.removed.allSatisfy { r in kept.allSatisfy { norms[r] <= norms[$0] } })
        // Oracle: the original with the classifier's columns for removed channels (2×2 pixels each) zeroed.
        let gemm = try #require(analyzed.graph.nodes.first { $0.opType == "Gemm" })
        var masked = analyzed.model
        try Self.zeroSlices(&masked.graph, gemm.inputs[1], dimension: 1, indices: group.removed, block: 4)
        let samples = try SampleSet(path: TestPaths.model("digits_test.npz"), graph: analyzed.graph)
        for i in 0..<20 {
            let input = try samples.sample(i)
            #expect(Self.close(try Self.run(pruned, input), try Self.run(masked, input)), "sample \(i)")
        }
        let parameters = { (m: Model) in m.graph.initializers.values.reduce(0) { $0 + $1.count } }
        #expect(parameters(pruned) == parameters(analyzed.model) - 8 * (8 * 9 + 1 + 4) - 10 * 32)
    }

    /// A graph with the forms the shared models lack: two layers concatenated, a depthwise
    /// convolution over the concatenation, a residual Add coupling two layers, PRelu with a
    /// per-channel slope.
    static func concatResidualModel() throws -> Model {
        var rng = SeededGenerator(seed: 11)
        func weights(_ shape: [Int]) throws -> Tensor {
            try Tensor(floats: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) }, shape: shape)
        }
        var graph = Graph(name: "concat_residual")
        graph.inputs = [ValueInfo(name: "x", type: TensorType(.float, [1, 3, 6, 6]))]
        let specs: [(String, [Int])] = [("wa", [4, 3, 3, 3]), ("ba", [4]), ("wb", [6, 3, 1, 1]), ("wd", [10, 1, 3, 3]), ("bd", [10]),
                                        ("slope", [10, 1, 1]), ("wp", [10, 10, 1, 1]), ("wq", [10, 10, 3, 3]), ("wc", [5, 10, 1, 1])]
        for (name, shape) in specs { graph.initializers[name] = try weights(shape) }
        let pad: [String: Attribute] = ["pads": .ints([1, 1, 1, 1])]
        graph.nodes = [
            Node(name: "a", opType: "Conv", inputs: ["x", "wa", "ba"], outputs: ["ya"], attributes: pad),
            Node(name: "b", opType: "Conv", inputs: ["x", "wb"], outputs: ["yb"]),
            Node(name: "cat", opType: "Concat", inputs: ["ya", "yb"], outputs: ["yc"], attributes: ["axis": .int(1)]),
            Node(name: "dw", opType: "Conv", inputs: ["yc", "wd", "bd"], outputs: ["yd"], attributes: pad.merging(["group": .int(10)]) { $1 }),
            Node(name: "act", opType: "PRelu", inputs: ["yd", "slope"], outputs: ["ye"]),
            Node(name: "p", opType: "Conv", inputs: ["ye", "wp"], outputs: ["yp"]),
            Node(name: "q", opType: "Conv", inputs: ["yp", "wq"], outputs: ["yq"], attributes: pad),
            Node(name: "add", opType: "Add", inputs: ["yp", "yq"], outputs: ["ys"]),
            Node(name: "c", opType: "Conv", inputs: ["ys", "wc"], outputs: ["y"]),
        ]
        graph.outputs = [ValueInfo(name: "y", type: nil)]
        return Model(opsets: ["": 13], graph: graph)
    }

    @Test func concatDepthwiseAndResidualChannelsFollow() throws {
        let model = try Self.concatResidualModel()
        let (pruned, groups) = try ChannelPruner.prune(model, options: PruningOptions(sparsity: 0.5, keep: ["c"]))
        let byLayers = Dictionary(uniqueKeysWithValues: groups.map { ($0.layers.joined(separator: "+"), $0) })
        let a = try #require(byLayers["a"]), b = try #require(byLayers["b"]), pq = try #require(byLayers["p+q"])
        #expect(a.channelsAfter == 2 && b.channelsAfter == 3 && pq.channelsAfter == 5, "\(groups)")
        #expect(pruned.graph.nodes.first { $0.name == "dw" }?.attributes["group"] == .int(5))
        #expect(pruned.graph.initializers["slope"]?.shape == [5, 1, 1] && pruned.graph.initializers["wd"]?.shape == [5, 1, 3, 3])
        // Oracle: the original, its readers ignoring the removed channels: the depthwise channels of
        // removed concatenated channels and the residual channels removed from p and q.
        var masked = model
        let concatenated = a.removed + b.removed.map { $0 + 4 }
        try Self.zeroSlices(&masked.graph, "wp", dimension: 1, indices: concatenated)
        try Self.zeroSlices(&masked.graph, "wq", dimension: 1, indices: pq.removed)
        try Self.zeroSlices(&masked.graph, "wc", dimension: 1, indices: pq.removed)
        let input = ModelVerifier.randomInputs(for: model.graph, seed: 3)
        #expect(Self.close(try Self.run(pruned, input), try Self.run(masked, input)))
    }

    /// On every shared float model: valid ONNX that ONNX Runtime runs, fewer MACs, C that verifies.
    @Test(arguments: ["digits_mlp", "digits_cnn", "kws_dscnn", "ic_resnet8", "vww_mobilenet_v1_025", "ad_autoencoder"])
    func sharedModelsShrinkAndStayValid(model: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let (pruned, groups) = try ChannelPruner.prune(analyzed.model, options: PruningOptions(sparsity: 0.5), criterion: .l1)
        let after = try ModelLoader.analyze(pruned, path: analyzed.path)
        let macs = (analyzed.inference.macs.reduce(0, +), after.inference.macs.reduce(0, +))
        #expect(groups.contains { $0.keptBecause == nil })
        #expect(Double(macs.1) < 0.9 * Double(macs.0), "\(model): \(macs)")
        print("\(model) channels -50 %: MACs \(macs.0) -> \(macs.1)")
        let directory = CBackendTests.workDirectory("channels-\(model)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = ModelVerifier.Options()
        options.sanitize = false
        for r in try ModelVerifier.verify(after, inputs: nil, options: options, workDirectory: directory) {
            #expect(r.passed, "\(model): \(r.name) \(r.maxAbsError)")
        }
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record(".venv with onnxruntime is missing") }
            return
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/pruned.onnx"
        try ModelWriter.write(pruned, to: path)
        let input = ModelVerifier.randomInputs(for: after.graph, seed: 5)
        let expected = try ONNXRuntimeCheck.firstOutput(python: python, model: path, input: try #require(input[after.graph.inputs[0].name]),
                                                        directory: directory)
        let interpreted = try Interpreter(model: after.model, inference: after.inference).run(input)[after.graph.outputs[0].name]?.floats ?? []
        #expect(Self.close(interpreted, expected), "\(model): the interpreter and ONNX Runtime differ on the pruned model")
    }

    @Test func commandLineStructuredPrune() throws {
        let directory = CBackendTests.workDirectory("channels-cli")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try CommandLineTests.run(["prune", TestPaths.model("ic_resnet8.onnx"), "--structured", "channels", "--sparsity", "0.5",
                                               "--criterion", "l1", "-o", directory + "/p.onnx"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("/s2/b/b.0/Conv + /s2/short/Conv     32 -> 16"), "\(result.stdout)")
        let compile = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn.onnx"), "--structured", "channels", "--sparsity", "0.5",
                                                "-o", directory + "/c"])
        #expect(compile.status == 0 && compile.stdout.contains("pruned 128 of 332 channels in 4 of 6 channel groups"), "\(compile.stdout)")
        for (arguments, message) in [(["--structured", "rows", "--sparsity", "0.5"], "--structured supports channels"),
                                     (["--criterion", "l1", "--sparsity", "0.5"], "--criterion is used with --structured channels"),
                                     (["--structured", "channels", "--sparsity", "0.5", "--scope", "global"], "--scope global is for unstructured pruning"),
                                     (["--structured", "channels", "--sparsity", "0.5", "--layers", "/fc/Gemm=0.5"], "\"/fc/Gemm\" cannot lose channels: a graph output"),
                                     (["--structured", "channels", "--sparsity", "0.5", "--keep", "relu"], "\"relu\" is not a layer whose channels")] {
            let bad = try CommandLineTests.run(["prune", TestPaths.model("digits_cnn.onnx"), "-o", directory + "/x.onnx"] + arguments)
            #expect(bad.status == 1 && bad.stderr.contains(message), "\(arguments): \(bad.stderr)")
        }
    }
}
