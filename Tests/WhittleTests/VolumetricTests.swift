import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy

/// Volumetric layers (Examples/models/volume_cnn.onnx, made by Tests/Volumetric/make_models.py with
/// ONNX Runtime's outputs): 3-D Conv (plain and grouped), MaxPool, AveragePool with the padding counted,
/// LpPool and a strided ConvTranspose. The interpreter matches ONNX Runtime, and the C matches the
/// interpreter on the host and on a Cortex-M4F.
struct VolumetricTests {
    static let model = TestPaths.model("volume_cnn.onnx"), references = TestPaths.model("volume_cnn.refs.npz")

    @Test func interpreterMatchesONNXRuntime() throws {
        let analyzed = try ModelLoader.load(path: Self.model)
        let archive = try NPZArchive(path: Self.references)
        for (j, output) in analyzed.graph.outputs.enumerated() {
            let expected = NDArray(try archive.array("out_\(j)")).floats
            let size = expected.count / 4
            for index in 0..<4 {
                let inputs = try ModelRunner.inputs(fromArchive: Self.references, for: analyzed.graph, case: index)
                let actual = try #require(try ModelRunner.run(analyzed, inputs: inputs)[output.name]).floats
                #expect(actual.count == size)
                for (k, value) in actual.enumerated() {
                    let reference = expected[index * size + k]
                    #expect(abs(value - reference) <= 1e-5 + 1e-4 * abs(reference), "\(output.name) case \(index) element \(k): \(value) against \(reference)")
                }
            }
        }
    }

    @Test(arguments: ["gcc", "clang"])
    func cMatchesTheInterpreterOnTheHost(compiler: String) throws {
        let analyzed = try ModelLoader.load(path: Self.model)
        var options = ModelVerifier.Options()
        options.compiler = compiler
        let inputs = try ModelRunner.inputs(fromArchive: Self.references, for: analyzed.graph, case: 1)
        let comparisons = try ModelVerifier.verify(analyzed, inputs: inputs, options: options,
                                                   workDirectory: CBackendTests.workDirectory("volume-\(compiler)"))
        #expect(comparisons.count >= 2)
        for c in comparisons { #expect(c.passed, "volume_cnn (\(compiler)): \(c.name) max abs error \(c.maxAbsError)") }
    }

    @Test func cMatchesTheInterpreterOnCortexM4F() throws {
        guard TargetTests.emulatorsInstalled, let catalog = TargetTests.catalog else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("QEMU or a cross compiler is missing") }
            return
        }
        let analyzed = try ModelLoader.load(path: Self.model)
        let inputs = try ModelRunner.inputs(fromArchive: Self.references, for: analyzed.graph, case: 3)
        let result = try TargetVerifier.verify(analyzed, target: try catalog.target("cortex-m4f"), catalog: catalog, inputs: inputs, tolerance: 1e-4,
                                               budgets: (nil, nil), workDirectory: CBackendTests.workDirectory("volume-m4f"))
        #expect(result.comparisons.count >= 2)
        for c in result.comparisons { #expect(c.passed, "volume_cnn on cortex-m4f: \(c.name) max abs error \(c.maxAbsError)") }
    }
}
