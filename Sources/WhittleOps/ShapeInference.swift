import WhittleIR

/// A node that Whittle cannot handle, and why.
public struct UnsupportedNode: Sendable, Hashable {
    public var node: NodeContext
    public var reason: String
}

/// The result of running shape inference over a model.
public struct InferenceResult: Sendable {
    /// The graph with `valueTypes` filled in wherever a type is known.
    public var graph: Graph
    /// Multiply-accumulates per node, in node order (0 for free or unsupported nodes).
    public var macs: [Int]
    /// Values computed at compile time (outputs of Constant nodes and of shape arithmetic).
    public var constants: [String: Tensor]
    /// Nodes whose operator Whittle does not support, in node order.
    public var unsupported: [UnsupportedNode]
}

/// Infers the element type and static shape of every value in a model.
///
/// Nodes are visited in topological order. Constant inputs (initializers,
/// `Constant` nodes) and small integer computations on shapes (the
/// `Shape → Gather → Concat → Reshape` chains exporters write) are evaluated on
/// the way, so that shapes which depend on them come out static. An operator
/// Whittle does not know does not stop inference: its outputs stay unknown
/// (unless the model declares them in `value_info`) and it is reported.
public enum ShapeInference {
    /// Folding is for shape arithmetic; larger constant computations are left to the optimizer.
    static let foldLimit = 1 << 16

    public static func run(_ model: Model) throws -> InferenceResult {
        var graph = model.graph
        var values: [String: Tensor] = graph.initializers
        var macs: [Int] = []
        var unsupported: [UnsupportedNode] = []
        var constants: [String: Tensor] = [:]

        for (index, node) in graph.nodes.enumerated() {
            let context = graph.context(ofNode: index)
            let opset = model.opset(for: node.domain)
            guard let definition = Registry.definition(domain: node.domain, name: node.opType) else {
                unsupported.append(UnsupportedNode(node: context, reason: Registry.whyUnsupported(node, opset: opset)))
                macs.append(0)
                continue
            }
            guard opset >= 1 else {
                unsupported.append(UnsupportedNode(node: context,
                    reason: "the model imports no opset for domain \"\(node.domain.isEmpty ? "ai.onnx" : node.domain)\""))
                macs.append(0)
                continue
            }
            let inputTypes = node.inputs.map { $0.isEmpty ? nil : graph.type(of: $0) }
            // An input whose type is unknown (after an unsupported node) leaves the outputs unknown too.
            let missing = zip(node.inputs, inputTypes).contains { !$0.0.isEmpty && ($0.1?.shape == nil) }
            if missing {
                macs.append(0)
                continue
            }
            let inputValues = node.inputs.map { $0.isEmpty ? nil : values[$0] }
            let ctx = InferenceContext(node: node, opset: opset, inputTypes: inputTypes, inputValues: inputValues)
            let outputs: [TensorType]
            do {
                outputs = try definition.infer(ctx)
                for type in outputs {
                    if let shape = type.shape { _ = try Shape.elementCount(shape) }
                }
            } catch let error as WhittleError where error.kind == .unsupported {
                // A supported operator used in a way Whittle cannot handle (a dynamic shape, a string
                // constant) is reported like an unknown operator rather than ending inference.
                unsupported.append(UnsupportedNode(node: context, reason: error.reason))
                macs.append(0)
                continue
            } catch let error as WhittleError {
                throw error.inNode(context)
            }
            for (name, type) in zip(node.outputs, outputs) where !name.isEmpty {
                graph.valueTypes[name] = type
            }
            macs.append(definition.macs.map { $0(ctx, outputs) } ?? 0)
            if macs[macs.count - 1] < 0 { macs[macs.count - 1] = 0 }
            let small = inputValues.allSatisfy { ($0?.count ?? 0) <= foldLimit }
            if let fold = definition.fold, small,
               let folded = try WhittleError.attaching(context, { try fold(ctx) }) {
                for (name, tensor) in zip(node.outputs, folded) where !name.isEmpty {
                    values[name] = tensor
                    constants[name] = tensor
                }
            }
        }
        try checkOutputs(&graph)
        return InferenceResult(graph: graph, macs: macs, constants: constants, unsupported: unsupported)
    }

    /// Declared output shapes must agree with inferred ones; the graph outputs take the inferred types.
    private static func checkOutputs(_ graph: inout Graph) throws {
        for i in graph.outputs.indices {
            let name = graph.outputs[i].name
            guard let inferred = graph.type(of: name) else { continue }
            guard let declared = graph.outputs[i].type else {
                graph.outputs[i].type = inferred
                continue
            }
            if let declaredShape = declared.shape, let inferredShape = inferred.shape, declaredShape != inferredShape {
                throw WhittleError(.shapeMismatch,
                    "graph output \"\(name)\" is declared as \(declared) but the model computes \(inferred)")
            }
            if declared.elementType != inferred.elementType {
                throw WhittleError(.shapeMismatch,
                    "graph output \"\(name)\" is declared as \(declared.elementType.name) but the model computes \(inferred.elementType.name)")
            }
            graph.outputs[i].type = inferred
        }
    }
}
