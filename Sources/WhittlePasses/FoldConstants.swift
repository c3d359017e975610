import WhittleIR
import WhittleOps

/// Evaluates nodes whose inputs are all constants with their reference kernels,
/// and turns `Constant` nodes into initializers.
public struct FoldConstants: GraphPass {
    public let name = "fold-constants"
    public let summary = "evaluate nodes whose inputs are all constant (and Constant nodes) at compile time"
    /// Results larger than this stay computed at run time rather than bloating flash.
    public var limit = 1 << 22
    /// Operators left unevaluated (a trained model's weight DequantizeLinear must stay for fuse-qdq).
    public var keeping: Set<String> = []

    public init(keeping: Set<String> = []) {
        self.keeping = keeping
    }

    public func run(_ model: inout Model, types: InferenceResult) throws -> Bool {
        var graph = model.graph
        var kept: [Node] = []
        var changed = false
        for (index, node) in graph.nodes.enumerated() {
            // Outputs that shape inference already computed (Shape, Size and the arithmetic on them).
            let outputs = node.outputs.filter { !$0.isEmpty }
            if !outputs.isEmpty, outputs.allSatisfy({ types.constants[$0] != nil }) {
                for name in outputs { graph.initializers[name] = types.constants[name] }
                changed = true
                continue
            }
            let constantInputs = node.inputs.allSatisfy { $0.isEmpty || graph.initializers[$0] != nil }
            guard constantInputs, node.subgraphs.isEmpty, !keeping.contains(node.opType),
                  let definition = Registry.definition(domain: node.domain, name: node.opType),
                  let kernel = definition.evaluate,
                  node.outputs.allSatisfy({ ($0.isEmpty ? 0 : (types.graph.type(of: $0)?.shape.map { $0.reduce(1, *) } ?? Int.max)) <= limit })
            else {
                kept.append(node)
                continue
            }
            let context = graph.context(ofNode: index)
            let results = try WhittleError.attaching(context) { () throws -> [NDArray] in
                let inputTypes = node.inputs.map { $0.isEmpty ? nil : graph.type(of: $0) }
                let inputValues = node.inputs.map { $0.isEmpty ? nil : graph.initializers[$0] }
                let ctx = InferenceContext(node: node, opset: model.opset(for: node.domain), inputTypes: inputTypes, inputValues: inputValues)
                let outputTypes = node.outputs.map { types.graph.type(of: $0) ?? TensorType(.float, nil) }
                let arrays = inputValues.map { $0.map(NDArray.init) }
                return try kernel(EvaluationContext(node: ctx, inputs: arrays, outputTypes: outputTypes))
            }
            for (name, value) in zip(node.outputs, results) where !name.isEmpty {
                graph.initializers[name] = try value.tensor()
            }
            changed = true
        }
        graph.nodes = kept
        model.graph = graph
        return changed
    }
}

/// Removes Identity and inference-mode Dropout by reading their input directly.
public struct RemoveIdentities: GraphPass {
    public let name = "remove-identity"
    public let summary = "remove Identity and Dropout (inference) nodes"

    public init() {}

    public func run(_ model: inout Model, types: InferenceResult) throws -> Bool {
        var changed = false
        var index = 0
        while index < model.graph.nodes.count {
            let node = model.graph.nodes[index]
            let isIdentity = node.opType == "Identity" || (node.opType == "Dropout" && (node.outputs.count < 2 || node.outputs[1].isEmpty))
            // A graph output keeps its name, so an Identity that produces one stays.
            guard Node.isDefaultDomain(node.domain), isIdentity, let input = node.inputs.first, !input.isEmpty,
                  let output = node.outputs.first, !model.graph.isOutput(output) else {
                index += 1
                continue
            }
            model.graph.nodes.remove(at: index)
            model.graph.replaceUses(of: output, with: input)
            changed = true
        }
        return changed
    }
}

/// Removes nodes whose outputs nothing reads, and initializers nothing reads.
public struct RemoveDeadNodes: GraphPass {
    public let name = "remove-dead"
    public let summary = "remove nodes and initializers whose values are never used"

    public init() {}

    public func run(_ model: inout Model, types: InferenceResult) throws -> Bool {
        var graph = model.graph
        var live = Set(graph.outputs.map(\.name))
        var keep = [Bool](repeating: false, count: graph.nodes.count)
        for index in graph.nodes.indices.reversed() {
            let node = graph.nodes[index]
            if node.outputs.contains(where: live.contains) {
                keep[index] = true
                live.formUnion(node.inputs.filter { !$0.isEmpty })
                live.formUnion(Verifier.subgraphFreeNames(node))
            }
        }
        let before = (graph.nodes.count, graph.initializers.count)
        graph.nodes = graph.nodes.indices.filter { keep[$0] }.map { graph.nodes[$0] }
        graph.initializers = graph.initializers.filter { live.contains($0.key) }
        model.graph = graph
        return before != (graph.nodes.count, graph.initializers.count)
    }
}

/// Turns `Constant` nodes into initializers (their values are known from shape inference).
public enum ConstantNodes {
    public static func asInitializers(_ model: Model) throws -> Model {
        guard model.graph.nodes.contains(where: { $0.opType == "Constant" && Node.isDefaultDomain($0.domain) }) else { return model }
        let types = try ShapeInference.run(model)
        var result = model
        var kept: [Node] = []
        for node in model.graph.nodes {
            if node.opType == "Constant", Node.isDefaultDomain(node.domain), let output = node.outputs.first, let value = types.constants[output] {
                result.graph.initializers[output] = value
            } else {
                kept.append(node)
            }
        }
        result.graph.nodes = kept
        return result
    }
}

