import Testing
import WhittleIR
import WhittleKit
import WhittlePasses

/// The arena plan, checked independently of the planner: two values whose byte ranges
/// overlap must never be live at the same time, unless one is a zero-copy view of the other.
struct MemoryPlanTests {
    /// Recomputes lifetimes from the graph and checks every pair of arena values; `inPlace` names nodes
    /// besides the element-wise ones whose kernels may overwrite their input.
    static func check(_ graph: Graph, _ plan: MemoryPlan, inPlace nodes: Set<Int> = []) -> [String] {
        var definition: [String: Int] = [:], lastUse: [String: Int] = [:], viewOf: [String: String] = [:]
        for (step, node) in graph.nodes.enumerated() {
            for input in node.inputs where !input.isEmpty { lastUse[input] = step }
            for output in node.outputs where !output.isEmpty { definition[output] = step }
            if node.attributes[WhittleAttribute.alias] == .int(1) { viewOf[node.outputs[0]] = node.inputs[0] }
        }
        func root(_ v: String) -> String { viewOf[v].map(root) ?? v }
        func typeBytes(_ v: String) -> Int {
            guard let t = graph.type(of: v), let s = t.shape, let w = t.elementType.byteWidth else { return 0 }
            return s.reduce(1, *) * w
        }
        let arenaValues = definition.keys.filter { plan.offset(of: $0) != nil }.sorted()
        var problems: [String] = []
        for v in arenaValues {
            guard let o = plan.offset(of: v) else { continue }
            if o % plan.alignment != 0 { problems.append("\(v) is not aligned") }
            if o + typeBytes(v) > plan.arenaBytes { problems.append("\(v) ends past the arena") }
        }
        for (i, u) in arenaValues.enumerated() {
            for v in arenaValues[(i + 1)...] {
                guard let ou = plan.offset(of: u), let ov = plan.offset(of: v) else { continue }
                let memory = ou < ov + typeBytes(v) && ov < ou + typeBytes(u)
                let du = definition[u] ?? 0, lu = lastUse[u] ?? du, dv = definition[v] ?? 0, lv = lastUse[v] ?? dv
                let live = du <= lv && dv <= lu
                // Touching lifetimes are allowed only for an element-wise node overwriting its own input (in place).
                let inPlace = (lu == dv && (elementwise(graph.nodes[dv]) || nodes.contains(dv)))
                    || (lv == du && (elementwise(graph.nodes[du]) || nodes.contains(du)))
                if memory && live && !inPlace && root(u) != root(v) { problems.append("\(u) and \(v) overlap while both are live") }
            }
        }
        return problems
    }

    /// Operators that read and write element i only at position i (so they can run in place).
    static func elementwise(_ node: Node) -> Bool {
        ["Relu", "Sigmoid", "Tanh", "Sqrt", "Exp", "Log", "Erf", "Neg", "Abs", "LeakyRelu", "HardSigmoid", "HardSwish", "Gelu",
         "Floor", "Ceil", "Round", "Reciprocal", "Sign", "Sin", "Cos", "Elu", "Selu", "Softplus", "Softsign", "Clip", "Add",
         "Sub", "Mul", "Div", "Pow", "Min", "Max", "Sum", "Mean", "PRelu", "BatchNormalization"].contains(node.opType)
    }

    /// Depthwise layers on the library kernels write their output over their input (each channel is
    /// copied into scratch before its output is written), in float and int8, paired or tiled.
    @Test(arguments: ["kws_dscnn", "kws_dscnn_int8_qdq"])
    func depthwiseLayersRunInPlace(model: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        for tiles in [false, true] {
            var options = CompileOptions()
            options.codegen.weightLayout = tiles ? .tiles : .pairs
            options.codegen.floatTiles = tiles
            let compiled = try ModelCompiler.compile(analyzed, options: options)
            let graph = compiled.types.graph, plan = compiled.bundle.plan
            let indices = graph.nodes.indices.filter {
                (graph.nodes[$0].opType == "Conv" || graph.nodes[$0].opType == "QLinearConv") && graph.nodes[$0].attributes["group"] == .int(64)
            }
            let depthwise = indices.map { graph.nodes[$0] }
            #expect(depthwise.count == 4)
            // No other overlap of live values, checked independently of the planner.
            #expect(Self.check(graph, plan, inPlace: Set(indices)) == [])
            #expect(Self.check(graph, plan) != [], "the depthwise layers run in place")
            for node in depthwise {
                #expect(plan.offset(of: node.inputs[0]) != nil && plan.offset(of: node.inputs[0]) == plan.offset(of: node.outputs[0]), "\(node.name)")
            }
        }
    }

    @Test(arguments: ["ad_autoencoder", "digits_cnn", "digits_mlp", "ic_resnet8", "kws_dscnn", "vww_mobilenet_v1_025",
                      "digits_cnn_int8_qdq", "ic_resnet8_int8_qdq", "kws_dscnn_int8_qdq"])
    func planIsSafeAndTight(model: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let (_, types) = try PassPipeline.standard.run(analyzed.model)
        let plan = try MemoryPlanner.plan(types.graph)
        #expect(Self.check(types.graph, plan) == [])
        #expect(Double(plan.arenaBytes) <= 1.05 * Double(plan.lowerBound), "\(model): \(plan.arenaBytes) vs \(plan.lowerBound)")
        print("plan \(model): arena \(plan.arenaBytes) B, lower bound \(plan.lowerBound) B, \(plan.buffers.count) buffers")
    }

    @Test func checkerFindsAnOverlap() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("digits_mlp.onnx"))
        let (_, types) = try PassPipeline.standard.run(analyzed.model)
        var plan = try MemoryPlanner.plan(types.graph)
        // Put every buffer at offset 0: the checker must object.
        for b in plan.buffers.indices { plan.buffers[b].offset = 0 }
        #expect(!Self.check(types.graph, plan).isEmpty)
    }

    @Test func elementwiseChainsRunInPlace() throws {
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", type: TensorType(.float, [64]))],
                          outputs: [ValueInfo(name: "y", type: nil)])
        graph.initializers["w"] = try Tensor(floats: Array(repeating: 1, count: 64 * 64), shape: [64, 64])
        graph.nodes = [
            Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["a"]),
            Node(name: "s", opType: "Sigmoid", inputs: ["a"], outputs: ["b"]),
            Node(name: "t", opType: "Tanh", inputs: ["b"], outputs: ["c"]),
            Node(name: "mm2", opType: "MatMul", inputs: ["c", "w"], outputs: ["y"]),
        ]
        let (_, types) = try PassPipeline(passes: []).run(Model(graph: graph))
        let plan = try MemoryPlanner.plan(types.graph)
        #expect(plan.buffers.count == 1)
        #expect(plan.arenaBytes == 256)
        #expect(Self.check(types.graph, plan) == [])
    }
}
