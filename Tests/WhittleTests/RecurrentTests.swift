import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleOps
import WhittleInterpreter

/// Recurrent keyword spotting (Examples/models/kws_lstm.onnx and kws_gru.onnx, made by
/// Tests/Recurrent/make_models.py with ONNX Runtime's outputs): the interpreter matches ONNX
/// Runtime, and the C (library kernel whittle_recurrent_f32) matches the interpreter on the host
/// under the sanitizers and on a Cortex-M4F under QEMU.
struct RecurrentTests {
    @Test(arguments: ["kws_lstm", "kws_gru"])
    func interpreterMatchesONNXRuntime(model: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let archive = try NPZArchive(path: TestPaths.model("\(model).refs.npz"))
        let expected = NDArray(try archive.array("out_0")).floats
        for index in 0..<5 {
            let inputs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: index)
            let outputs = try ModelRunner.run(analyzed, inputs: inputs)
            let actual = try #require(outputs[analyzed.graph.outputs[0].name]).floats
            #expect(actual.count == 12)
            for (k, value) in actual.enumerated() {
                let reference = expected[index * 12 + k]
                #expect(abs(value - reference) <= 1e-5 + 1e-4 * abs(reference), "\(model) case \(index) output \(k): \(value) against \(reference)")
            }
        }
    }

    @Test(arguments: ["kws_lstm", "kws_gru"], ["gcc", "clang"])
    func cMatchesTheInterpreterOnTheHost(model: String, compiler: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        var options = ModelVerifier.Options()
        options.compiler = compiler
        let inputs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: 1)
        for c in try ModelVerifier.verify(analyzed, inputs: inputs, options: options, workDirectory: CBackendTests.workDirectory("\(model)-\(compiler)")) {
            #expect(c.passed, "\(model) (\(compiler)): \(c.name) max abs error \(c.maxAbsError)")
        }
        let compiled = try ModelCompiler.compile(analyzed)
        #expect(compiled.bundle.layers.contains { $0.kernels == ["whittle_recurrent_f32"] })
    }

    @Test(arguments: ["kws_lstm", "kws_gru"])
    func cMatchesTheInterpreterOnCortexM4F(model: String) throws {
        guard TargetTests.emulatorsInstalled, let catalog = TargetTests.catalog else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("QEMU or a cross compiler is missing") }
            return
        }
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let inputs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: 2)
        let result = try TargetVerifier.verify(analyzed, target: try catalog.target("cortex-m4f"), catalog: catalog, inputs: inputs, tolerance: 1e-4,
                                               budgets: (nil, nil), workDirectory: CBackendTests.workDirectory("\(model)-m4f"))
        for c in result.comparisons { #expect(c.passed, "\(model) on cortex-m4f: \(c.name) max abs error \(c.maxAbsError)") }
        print("target cortex-m4f \(model): insns \(result.instructions ?? -1)")
    }

    /// Optional inputs of the wrong shape or type are refused by shape inference, before any kernel
    /// could read past them; a negative sequence length gives zeros, not a trap.
    @Test func badOptionalInputsAreRefused() throws {
        let hidden = 3
        func model(bias: [Int], lengths: Tensor?) throws -> Model {
            var initializers: [String: Tensor] = [
                "W": try Tensor(floats: Array(repeating: 0.1, count: hidden * 2), shape: [1, hidden, 2]),
                "R": try Tensor(floats: Array(repeating: 0.1, count: hidden * hidden), shape: [1, hidden, hidden]),
                "B": try Tensor(floats: Array(repeating: 0.1, count: bias.reduce(1, *)), shape: bias),
            ]
            if let lengths { initializers["L"] = lengths }
            return HostileModelTests.model([Node(name: "rnn", opType: "RNN", inputs: ["x", "W", "R", "B"] + (lengths == nil ? [] : ["L"]),
                                                 outputs: ["y", "h"], attributes: ["hidden_size": .int(hidden)])],
                                           inputs: [ValueInfo(name: "x", type: TensorType(.float, [4, 1, 2]))], outputs: ["y", "h"],
                                           initializers: initializers)
        }
        let wrongBias = expectWhittleError { _ = try ShapeInference.run(try model(bias: [1, 4], lengths: nil)) }
        #expect(wrongBias?.reason.contains("B is 1x4, not 1x6") == true, "\(String(describing: wrongBias))")
        let wrongLengths = expectWhittleError { _ = try ShapeInference.run(try model(bias: [1, 6], lengths: try Tensor(int64s: [2], shape: [1], as: .int64))) }
        #expect(wrongLengths?.reason.contains("sequence_lens must be int32") == true, "\(String(describing: wrongLengths))")
        let negative = try model(bias: [1, 6], lengths: try Tensor(int64s: [-3], shape: [1], as: .int32))
        let y = try Interpreter(model: negative, inference: try ShapeInference.run(negative)).run(["x": NDArray(.float, shape: [4, 1, 2], floats: Array(repeating: 1, count: 8))])
        #expect(y["y"]?.floats == Array(repeating: 0, count: 12))
    }
}
