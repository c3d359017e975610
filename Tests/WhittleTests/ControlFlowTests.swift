import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy

/// Control flow (Examples/models/refine_loop.onnx, made by Tests/ControlFlow/make_models.py with
/// ONNX Runtime's outputs): a Loop of four iterations with a scan output and an If on a constant flag
/// are expanded into plain operators; the interpreter matches ONNX Runtime, and the C matches the
/// interpreter on the host and on a Cortex-M4F.
struct ControlFlowTests {
    static let model = TestPaths.model("refine_loop.onnx"), references = TestPaths.model("refine_loop.refs.npz")

    @Test func interpreterMatchesONNXRuntime() throws {
        let analyzed = try ModelLoader.load(path: Self.model)
        #expect(!analyzed.graph.nodes.contains { ["Loop", "If", "Scan"].contains($0.opType) })
        #expect(analyzed.model.notes.contains("Loop \"refine\": unrolled, 4 iterations"), "\(analyzed.model.notes)")
        #expect(analyzed.model.notes.contains("If \"residual\": the condition is known: the then branch is taken"))
        let archive = try NPZArchive(path: Self.references)
        for (j, output) in analyzed.graph.outputs.enumerated() {
            let expected = NDArray(try archive.array("out_\(j)")).floats
            let size = expected.count / 5
            for index in 0..<5 {
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
        let inputs = try ModelRunner.inputs(fromArchive: Self.references, for: analyzed.graph, case: 2)
        for c in try ModelVerifier.verify(analyzed, inputs: inputs, options: options, workDirectory: CBackendTests.workDirectory("refine-\(compiler)")) {
            #expect(c.passed, "refine_loop (\(compiler)): \(c.name) max abs error \(c.maxAbsError)")
        }
    }

    @Test func cMatchesTheInterpreterOnCortexM4F() throws {
        guard TargetTests.emulatorsInstalled, let catalog = TargetTests.catalog else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("QEMU or a cross compiler is missing") }
            return
        }
        let analyzed = try ModelLoader.load(path: Self.model)
        let inputs = try ModelRunner.inputs(fromArchive: Self.references, for: analyzed.graph, case: 4)
        let result = try TargetVerifier.verify(analyzed, target: try catalog.target("cortex-m4f"), catalog: catalog, inputs: inputs, tolerance: 1e-4,
                                               budgets: (nil, nil), workDirectory: CBackendTests.workDirectory("refine-m4f"))
        for c in result.comparisons { #expect(c.passed, "refine_loop on cortex-m4f: \(c.name) max abs error \(c.maxAbsError)") }
    }

    /// A Loop whose body decides when to stop cannot be unrolled: analysis lists it with the reason,
    /// and compile refuses it naming the node.
    @Test func aDataDependentLoopIsRefusedWithTheReason() throws {
        var body = Graph(name: "body", inputs: [ValueInfo(name: "i", type: TensorType(.int64, [])),
                                                ValueInfo(name: "c", type: TensorType(.bool, [])),
                                                ValueInfo(name: "v", type: TensorType(.float, [1]))])
        body.initializers["limit"] = try Tensor(floats: [3], shape: [1])
        body.nodes = [Node(name: "next", opType: "Add", inputs: ["v", "v"], outputs: ["w"]),
                      Node(name: "more", opType: "Less", inputs: ["w", "limit"], outputs: ["more1"]),
                      Node(name: "squeeze", opType: "Squeeze", inputs: ["more1"], outputs: ["more"])]
        body.outputs = [ValueInfo(name: "more", type: nil), ValueInfo(name: "w", type: nil)]
        let model = HostileModelTests.model([Node(name: "grow", opType: "Loop", inputs: ["m", "go", "x"], outputs: ["y"],
                                                  attributes: ["body": .graph(body)])],
                                            inputs: [ValueInfo(name: "x", type: TensorType(.float, [1]))], outputs: ["y"],
                                            initializers: ["m": try Tensor(int64s: [10], shape: []), "go": try Tensor(int64s: [1], shape: [], as: .bool)])
        let analyzed = try ModelLoader.analyze(model, path: "grow.onnx")
        let reason = try #require(analyzed.inference.unsupported.first)
        #expect(reason.node.index == 0 && reason.reason.contains("decides when to stop"), "\(reason)")
        let error = expectWhittleError { _ = try ModelCompiler.compile(analyzed) }
        #expect(error?.description.contains("node 0 \"grow\" (Loop)") == true && error?.description.contains("decides when to stop") == true,
                "\(String(describing: error))")
    }
}
