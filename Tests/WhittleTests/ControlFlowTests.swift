import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleOps
import WhittleNumPy

/// Control flow against ONNX Runtime (made by Tests/ControlFlow/make_models.py): refine_loop.onnx (a
/// Loop of four iterations with a scan output, then an If on a constant flag) and nested_scan.onnx (a
/// Loop reading its iteration number around an inner Loop, then a backward Scan whose two carried
/// values swap each step). The interpreter unrolls them and matches ONNX Runtime; the C keeps each
/// Loop and Scan as a C loop over one copy of its body and matches the interpreter on the host and
/// on a Cortex-M4F.
struct ControlFlowTests {
    static let models = ["refine_loop", "nested_scan"]

    static func paths(_ name: String) -> (model: String, references: String) {
        (TestPaths.model("\(name).onnx"), TestPaths.model("\(name).refs.npz"))
    }

    @Test func theInterpreterUnrollsRefineLoop() throws {
        let analyzed = try ModelLoader.load(path: Self.paths("refine_loop").model)
        #expect(!analyzed.graph.nodes.contains { ["Loop", "If", "Scan"].contains($0.opType) })
        #expect(analyzed.model.notes.contains("Loop \"refine\": unrolled, 4 iterations"), "\(analyzed.model.notes)")
        #expect(analyzed.model.notes.contains("If \"residual\": the condition is known: the then branch is taken"))
    }

    @Test(arguments: models)
    func interpreterMatchesONNXRuntime(name: String) throws {
        let (model, references) = Self.paths(name)
        let analyzed = try ModelLoader.load(path: model)
        let archive = try NPZArchive(path: references)
        for (j, output) in analyzed.graph.outputs.enumerated() {
            let expected = NDArray(try archive.array("out_\(j)")).floats
            let size = expected.count / 5
            for index in 0..<5 {
                let inputs = try ModelRunner.inputs(fromArchive: references, for: analyzed.graph, case: index)
                let actual = try #require(try ModelRunner.run(analyzed, inputs: inputs)[output.name]).floats
                #expect(actual.count == size)
                for (k, value) in actual.enumerated() {
                    let reference = expected[index * size + k]
                    #expect(abs(value - reference) <= 1e-5 + 1e-4 * abs(reference), "\(name) \(output.name) case \(index) element \(k): \(value) against \(reference)")
                }
            }
        }
    }

    /// The C of each Loop and Scan is one `for` loop around one copy of the body's layers; with
    /// `unrollLoops` the body is repeated instead.
    @Test func loopsStayLoopsInC() throws {
        let refine = try ModelLoader.load(path: Self.paths("refine_loop").model)
        let rolled = try ModelCompiler.compile(refine).bundle.source
        #expect(rolled.contains("for (int loop0 = 0; loop0 < 4; ++loop0) {"), "\(rolled)")
        #expect(rolled.components(separatedBy: "_MatMul(const float").count - 1 == 1)
        var options = CompileOptions()
        options.unrollLoops = true
        let unrolled = try ModelCompiler.compile(refine, options: options).bundle.source
        #expect(!unrolled.contains("for (int loop0"))
        #expect(unrolled.components(separatedBy: "_MatMul(const float").count - 1 == 4)

        let nested = try ModelCompiler.compile(try ModelLoader.load(path: Self.paths("nested_scan").model))
        let source = nested.bundle.source
        for header in ["for (int loop0 = 0; loop0 < 3; ++loop0) {", "    for (int loop1 = 0; loop1 < 2; ++loop1) {",
                       "for (int loop2 = 0; loop2 < 6; ++loop2) {"] {
            #expect(source.contains(header), "\(header)")
        }
        #expect(nested.optimized.graph.nodes.filter(LoopRegion.isBegin).count == 3)
        // One copy of each body: fewer layer functions than the unrolled form.
        let unrolledNested = try ModelCompiler.compile(try ModelLoader.load(path: Self.paths("nested_scan").model), options: options).bundle.source
        func layers(_ text: String) -> Int { text.components(separatedBy: "static void node_").count - 1 }
        #expect(layers(source) < layers(unrolledNested), "\(layers(source)) rolled, \(layers(unrolledNested)) unrolled")
    }

    @Test(arguments: models, ["gcc", "clang"])
    func cMatchesTheInterpreterOnTheHost(name: String, compiler: String) throws {
        let (model, references) = Self.paths(name)
        let analyzed = try ModelLoader.load(path: model)
        var options = ModelVerifier.Options()
        options.compiler = compiler
        let inputs = try ModelRunner.inputs(fromArchive: references, for: analyzed.graph, case: 2)
        let comparisons = try ModelVerifier.verify(analyzed, inputs: inputs, options: options,
                                                   workDirectory: CBackendTests.workDirectory("\(name)-\(compiler)"))
        #expect(comparisons.count == 2 * analyzed.graph.outputs.count)
        for c in comparisons { #expect(c.passed, "\(name) (\(compiler)): \(c.name) max abs error \(c.maxAbsError)") }
    }

    @Test(arguments: models)
    func cMatchesTheInterpreterOnCortexM4F(name: String) throws {
        guard TargetTests.emulatorsInstalled, let catalog = TargetTests.catalog else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("QEMU or a cross compiler is missing") }
            return
        }
        let (model, references) = Self.paths(name)
        let analyzed = try ModelLoader.load(path: model)
        let inputs = try ModelRunner.inputs(fromArchive: references, for: analyzed.graph, case: 4)
        let result = try TargetVerifier.verify(analyzed, target: try catalog.target("cortex-m4f"), catalog: catalog, inputs: inputs, tolerance: 1e-4,
                                               budgets: (nil, nil), workDirectory: CBackendTests.workDirectory("\(name)-m4f"))
        #expect(!result.comparisons.isEmpty)
        for c in result.comparisons { #expect(c.passed, "\(name) on cortex-m4f: \(c.name) max abs error \(c.maxAbsError)") }
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
