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
