import Foundation
import Testing
import WhittleCodegen
import WhittleIR
import WhittleKit
import WhittleOps

/// The lowering stage decides each node's kernel once, as data that the planner, the emitter and the
/// reports read: no kernel runs twice, and every report names the same kernels.
struct LoweringTests {
    @Test(arguments: ["kws_dscnn", "kws_dscnn_int8_qdq", "ic_resnet8_int8_qdq", "vww_mobilenet_v1_025"])
    func eachKernelRunsOncePerCompile(model: String) throws {
        let catalog = try #require(TargetTests.catalog)
        for target in ["cortex-m4f", "rpi4", "host"] {
            var options = CompileOptions()
            options.adopt(try catalog.target(target))
            let compiled = try ModelCompiler.compile(try ModelLoader.load(path: TestPaths.model("\(model).onnx")), options: options)
            let graph = compiled.types.graph
            #expect(compiled.lowered.kernelRuns.count == graph.nodes.count)
            for (index, node) in graph.nodes.enumerated() {
                let runs = compiled.lowered.kernelRuns[index]
                let hasFunction: Bool = switch compiled.lowered.nodes[index].choice.kind {
                case .library, .generatedLoops: true
                default: false
                }
                #expect(runs == (hasFunction ? 1 : 0), "\(target) \(node.opType) \(node.name): \(runs) runs")
                if ["Conv", "QLinearConv"].contains(node.opType) { #expect(runs == 1) }
            }
            // The planner's requests are the choices' facts.
            let plan = compiled.bundle.plan
            for node in compiled.lowered.nodes where node.choice.scratchBytes > 0 { #expect(plan.scratch[node.index] != nil) }
            #expect(compiled.lowered.inPlaceNodes == Set(compiled.lowered.nodes.filter(\.choice.writesOverInput).map(\.index)))
        }
    }

    /// compile --explain, the compile report, inspect --target and the HTML report say the same of every layer.
    @Test func reportsAgreeWithTheChoices() throws {
        let catalog = try #require(TargetTests.catalog)
        let target = try catalog.target("cortex-m4f")
        for model in EmittedCSnapshotTests.models {
            let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
            var options = CompileOptions()
            options.adopt(target)
            let compiled = try ModelCompiler.compile(analyzed, options: options)
            let report = CompileReport(compiled)
            let inspect = InspectReport(analyzed, target: target)
            var page = HTMLReport(title: model)
            page.addCompiled(compiled, target: target)
            let html = page.html()
            for (layer, lowered) in zip(compiled.bundle.layers, compiled.lowered.nodes) {
                let choice = lowered.choice
                #expect(layer.kernels == choice.kernels && layer.isView == (choice.kind == .view))
                let text = CompileReport.kernelText(view: layer.isView, kernels: layer.kernels)
                #expect(html.contains(">\(text)</td>"), "\(model) \(layer.name): \(text)")
                if let row = report.layers.first(where: { $0.function == layer.function && $0.name == layer.name }) {
                    #expect(row.reason == choice.reason && row.scratch == choice.scratchBytes && row.inPlace == choice.writesOverInput)
                }
                if !layer.name.isEmpty, let described = inspect.nodes.first(where: { $0.name == layer.name })?.kernel {
                    #expect(described.hasPrefix(text), "\(model) \(layer.name): inspect says \(described), the choice \(text)")
                }
            }
            #expect(report.explanation().components(separatedBy: "why: ").count - 1 == report.layers.count)
        }
        let cli = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn_int8_qdq.onnx"), "--target", "cortex-m4f", "--explain", "-o",
                                            CBackendTests.workDirectory("explain")])
        #expect(cli.status == 0 && cli.stdout.contains("whittle_depthwise_s8, scratch") && cli.stdout.contains("output over input")
                && cli.stdout.contains("why: the layer has the library kernel's form"), "\(cli.stdout)")
    }

    /// A Loop whose body needs a constant (CumSum's axis, carried through the loop unchanged) cannot stay
    /// a C loop; it is unrolled, and the user is told so and why, instead of getting another form silently.
    @Test func unrolledFallbackIsReported() throws {
        let model = TestPaths.fixture("loop_needs_unrolling.onnx")
        let compiled = try ModelCompiler.compile(try ModelLoader.load(path: model))
        #expect(compiled.notes.count == 1 && compiled.notes.first?.contains("the axis of CumSum must be a constant") == true, "\(compiled.notes)")
        #expect(!compiled.types.graph.nodes.contains { LoopRegion.isBegin($0) })
        let cli = try CommandLineTests.run(["compile", model, "-o", CBackendTests.workDirectory("unrolled")])
        #expect(cli.status == 0 && cli.stdout.contains("note: Loop and Scan are unrolled (one copy of the body per iteration): keeping them as C loops failed"),
                "\(cli.stdout)")
        let verify = try CommandLineTests.run(["verify", model])
        #expect(verify.status == 0 && verify.stdout.contains("PASS"), "\(verify.stdout) \(verify.stderr)")
        // A loop that can stay one stays one, without a note.
        let rolled = try ModelCompiler.compile(try ModelLoader.load(path: ControlFlowTests.paths("refine_loop").model))
        #expect(rolled.notes.isEmpty && rolled.types.graph.nodes.contains { LoopRegion.isBegin($0) })
    }
}
