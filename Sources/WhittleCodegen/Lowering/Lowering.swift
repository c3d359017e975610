import WhittleIR
import WhittleOps
import WhittlePasses

/// One node of a ``LoweredGraph``: its C function's name, its kernel choice, and the body its kernel
/// wrote (once), with the constant arrays the body reads.
public struct LoweredNode: Sendable {
    public var index: Int
    /// The C function that computes the node (none is written for views, loop regions and empty outputs).
    public var function: String
    public var choice: KernelChoice
    /// The function body; empty when the node has no function.
    var body: [String] = []
    /// The node inputs (by position) the body reads: the function's parameters.
    var inputsRead: [Int] = []
    /// The node outputs (by position) the body names; the others are marked unused.
    var outputsNamed: Set<Int> = []
    /// Whether the body uses the planned scratch memory.
    var usesScratch = false
    /// Constant arrays the body added to the weights file.
    var arrays: [EmissionExtras.Array] = []
}

/// The optimized graph with every kernel decision made, as data: what ``MemoryPlanner`` plans
/// around (scratch, outputs written over inputs), what ``CEmitter`` renders, and what the reports show.
public struct LoweredGraph: Sendable {
    public var model: Model
    public var types: InferenceResult
    public var options: CodegenOptions
    /// The C identifier prefix of the model's files and symbols.
    public var prefix: String
    public var nodes: [LoweredNode]
    /// How many times each node's kernel ran to write its body (once, or never for nodes without a function).
    public var kernelRuns: [Int]
    var weightSymbols: [String: String]
    var inputParams: [String]
    var outputParams: [String]

    /// Scratch bytes by node index, for ``MemoryPlanner/plan(_:alignment:scratch:inPlace:)``.
    public var scratchRequests: [Int: Int] {
        var requests: [Int: Int] = [:]
        for node in nodes where node.choice.scratchBytes > 0 { requests[node.index] = node.choice.scratchBytes }
        return requests
    }

    /// The nodes whose kernels may write their output over their input.
    public var inPlaceNodes: Set<Int> { Set(nodes.filter(\.choice.writesOverInput).map(\.index)) }
}

/// The lowering stage: decides, once per node of the optimized graph, which kernel computes it and in
/// what form (library kernel with its weight layout, generated loops, sparse rows, a view, a loop
/// region), with its scratch and whether it may work in place, and writes its body. Nothing after
/// this stage runs a kernel or reads decisions back from generated text.
public enum Lowering {
    public static func lower(_ model: Model, types: InferenceResult, name: String, options: CodegenOptions,
                             progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> LoweredGraph {
        let graph = types.graph
        let prefix = CSyntax.identifier(name)
        var names = NameTable(reserved: ["arena", "base", prefix + "_run", prefix + "_run_with_arena"])
        let weightSymbols = Dictionary(uniqueKeysWithValues: graph.initializerNames.map { ($0, names.unique(prefix + "_w_" + CSyntax.identifier($0))) })
        let inputParams = graph.inputs.map { names.unique(CSyntax.identifier($0.name)) }
        let outputParams = graph.outputs.map { names.unique(CSyntax.identifier($0.name)) }
        var nodes: [LoweredNode] = [], runs = [Int](repeating: 0, count: graph.nodes.count)
        for (index, node) in graph.nodes.enumerated() {
            progress("emitting C", index + 1, graph.nodes.count)
            let function = names.unique(String(format: "node_%03d_", index) + CSyntax.identifier(node.name.isEmpty ? node.opType : node.name))
            var lowered = try WhittleError.attaching(graph.context(ofNode: index)) {
                try lowerNode(index, model: model, types: types, options: options, symbolPrefix: prefix + "_" + function, runs: &runs)
            }
            lowered.function = function
            nodes.append(lowered)
        }
        return LoweredGraph(model: model, types: types, options: options, prefix: prefix, nodes: nodes, kernelRuns: runs,
                            weightSymbols: weightSymbols, inputParams: inputParams, outputParams: outputParams)
    }

    static func lowerNode(_ index: Int, model: Model, types: InferenceResult, options: CodegenOptions, symbolPrefix: String,
                          runs: inout [Int]) throws -> LoweredNode {
        let graph = types.graph, node = graph.nodes[index]
        var emission = try CEmitter.emission(index, model: model, types: types, options: options)
        // Working memory is asked for by the node's kind, whatever form its code takes.
        let scratch = try CEmitter.scratchNeeds[node.qualifiedOpType].map { try $0(emission) } ?? 0
        var choice = KernelChoice(kind: .generatedLoops, scratchBytes: max(scratch, 0))
        if LoopRegion.isBegin(node) || LoopRegion.isEnd(node) {
            choice.kind = .loopRegion
            return LoweredNode(index: index, function: "", choice: choice)
        }
        if node.attributes[WhittleAttribute.alias] == .int(1) {
            choice.kind = .view
            return LoweredNode(index: index, function: "", choice: choice)
        }
        let outputs = node.outputs.filter { !$0.isEmpty }
        if !outputs.isEmpty && outputs.allSatisfy({ graph.type(of: $0)?.shape?.contains(0) == true }) {
            choice.kind = .noCode
            return LoweredNode(index: index, function: "", choice: choice)
        }
        guard let kernel = CEmitter.kernels[node.qualifiedOpType] else {
            throw WhittleError(.unsupported, "the C back end has no kernel for \(node.qualifiedOpType)")
        }
        if let (value, type) = HalfPrecisionLowering.unhandledOperand(node, type: { graph.type(of: $0)?.elementType }) {
            throw WhittleError(.unsupported, "the C back end has no \(node.qualifiedOpType) kernel for \(type.name) data (\"\(value)\")")
        }
        emission.symbolPrefix = symbolPrefix
        if choice.scratchBytes > 0 { emission.scratch = "scratch" }
        var body = CWriter()
        try kernel(emission, &body)
        runs[index] += 1
        // Kernels write their operands as x0, x1, ..., y0, ... and scratch; the body is read here, once,
        // for the names it uses, so that the emitter renders a parameter list instead of deciding one.
        let names = CSyntax.identifiers(in: body.text)
        let called = KernelLibrary.called(identifiers: names)
        // Loops that only round with a library helper are still generated loops, not a library kernel.
        choice.kind = called.allSatisfy(KernelLibrary.roundingHelpers.contains) ? .generatedLoops : .library(called)
        choice.writesOverInput = emission.extras.overwritesInput
        choice.weightForm = emission.extras.weightForm
        choice.weightBits = emission.extras.weightBits
        return LoweredNode(index: index, function: "", choice: choice, body: body.lines,
                           inputsRead: node.inputs.indices.filter { !node.inputs[$0].isEmpty && names.contains("x\($0)") },
                           outputsNamed: Set(node.outputs.indices.filter { names.contains("y\($0)") }),
                           usesScratch: choice.scratchBytes > 0 && names.contains("scratch"), arrays: emission.extras.arrays)
    }
}
