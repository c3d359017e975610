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
        try run(model, specializing: nil)
    }

    /// Infers shapes and, with `specializing`, also computes every value whose inputs are known with the
    /// nodes' reference kernels: when all graph inputs are bound to constants, shapes that depend on the
    /// data (an Expand to a shape computed from a mask, a Reshape to a size read from a tensor) come out
    /// static. `specializing` is the most bytes one computed value may take.
    public static func run(_ model: Model, specializing maxTensorBytes: Int?) throws -> InferenceResult {
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
            var computed: [Tensor]?
            if let fold = definition.fold, small || maxTensorBytes != nil {
                computed = try WhittleError.attaching(context, { try fold(ctx) })
            }
            // Without a fold of its own, a node on known values is run with its reference kernel: always when
            // specializing, else when it is small integer arithmetic (shape computations written with Where,
            // Equal, Mod, ... as function bodies do). Float and 8-bit values stay, as weights and QDQ pairs must.
            let shapeArithmetic = small && outputs.allSatisfy { type in
                [.int64, .int32, .bool].contains(type.elementType) && (type.shape.map { $0.reduce(1, *) <= foldLimit } ?? false)
            }
            if computed == nil, maxTensorBytes != nil || shapeArithmetic, let kernel = definition.evaluate,
               zip(node.inputs, inputValues).allSatisfy({ $0.0.isEmpty || $0.1 != nil }) {
                computed = try WhittleError.attaching(context) {
                    try evaluate(node, kernel: kernel, context: ctx, outputs: outputs, maxTensorBytes: maxTensorBytes ?? Int.max)
                }
            }
            if let computed {
                for (name, tensor) in zip(node.outputs, computed) where !name.isEmpty {
                    values[name] = tensor
                    constants[name] = tensor
                }
            }
        }
        try checkOutputs(&graph)
        return InferenceResult(graph: graph, macs: macs, constants: constants, unsupported: unsupported)
    }

    /// Runs one node's reference kernel on constant inputs (specialization).
    private static func evaluate(_ node: Node, kernel: Kernel, context: InferenceContext, outputs: [TensorType],
                                 maxTensorBytes: Int) throws -> [Tensor] {
        for type in outputs {
            guard let shape = type.shape else { continue }
            let bytes = (try? Shape.byteCount(shape, width: type.elementType.byteWidth ?? 8)) ?? Int.max
            guard bytes <= maxTensorBytes else {
                throw WhittleError(.unsupported, "a value of shape \(Shape.describe(shape)) would take more than the "
                                   + "\(maxTensorBytes) bytes allowed for one tensor", setting: .maxTensorBytes)
            }
        }
        let inputs = context.inputValues.map { $0.map(NDArray.init) }
        var results = try kernel(EvaluationContext(node: context, inputs: inputs, outputTypes: outputs))
        if let activation = FusedActivation(node), let first = results.first {
            results[0] = first.mapped(float: activation.apply, double: { Double(activation.apply(Float($0))) }, int: { $0 })
        }
        guard results.count >= node.outputs.count else {
            throw WhittleError(.invalidGraph, "the kernel produced \(results.count) outputs, \(node.outputs.count) expected")
        }
        for (k, name) in node.outputs.enumerated() where !name.isEmpty {
            guard k < outputs.count, let expected = outputs[k].shape, results[k].shape == expected else {
                throw WhittleError(.shapeMismatch, "the kernel produced a different shape than inferred for \"\(name)\"")
            }
        }
        return try results.map { try $0.tensor() }
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
