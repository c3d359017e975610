import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy

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
}
