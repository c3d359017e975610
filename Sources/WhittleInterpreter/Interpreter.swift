import WhittleIR
import WhittleOps

/// The reference interpreter: runs a model node by node with each operator's
/// reference kernel. It is the oracle that emitted C and compression passes are
/// checked against, so it favours plain, spec-shaped code over speed.
public struct Interpreter: Sendable {
    private let model: Model
    private let inference: InferenceResult
    private let constants: [String: NDArray]

    /// Prepares to run `model`, whose shapes `inference` has inferred.
    ///
    /// Throws when the graph has a node Whittle cannot run, naming it.
    public init(model: Model, inference: InferenceResult) throws {
        if let first = inference.unsupported.first {
            throw WhittleError(.unsupported, "cannot run this model: \(first.reason)").inNode(first.node)
        }
        self.model = model
        self.inference = inference
        var constants: [String: NDArray] = [:]
        for (name, tensor) in inference.graph.initializers { constants[name] = NDArray(tensor) }
        for (name, tensor) in inference.constants { constants[name] = NDArray(tensor) }
        self.constants = constants
    }

    /// The graph being run (with inferred types).
    public var graph: Graph { inference.graph }

    /// Runs the model. `inputs` are matched by name and must have the graph inputs' types and shapes.
    /// `trace`, when given, sees every value the run computes, in order.
    /// The most bytes one computed tensor may take; a model that would need more is refused before
    /// the allocation (a ConstantOfShape or Expand to a huge shape, for example).
    public var maxTensorBytes = 1 << 32

    /// Refuses an output larger than `maxTensorBytes` (or whose size overflows).
    func checkSize(_ name: String, _ type: TensorType) throws {
        guard let shape = type.shape else { return }
        let bytes = (try? Shape.byteCount(shape, width: type.elementType.byteWidth ?? 8)) ?? Int.max
        guard bytes <= maxTensorBytes else {
            throw WhittleError(.unsupported, "output \"\(name)\" of shape \(Shape.describe(shape)) would take \(bytes == Int.max ? "more than 2^63" : String(bytes)) bytes, "
                               + "more than the \(maxTensorBytes) bytes allowed for one tensor (--max-tensor-bytes)")
        }
    }

    public func run(_ inputs: [String: NDArray], trace: ((String, NDArray) throws -> Void)? = nil) throws -> [String: NDArray] {
        let graph = inference.graph
        var values = constants
        for input in graph.inputs {
            guard let value = inputs[input.name] else {
                throw WhittleError(.usage, "no value given for input \"\(input.name)\"")
            }
            if let type = input.type {
                guard value.elementType == type.elementType, type.shape == nil || value.shape == type.shape else {
                    throw WhittleError(.usage, "input \"\(input.name)\" must be \(type), got \(TensorType(value.elementType, value.shape))")
                }
            }
            values[input.name] = value
        }
        for (index, node) in graph.nodes.enumerated() {
            if node.outputs.allSatisfy({ $0.isEmpty || values[$0] != nil }) { continue }
            let context = graph.context(ofNode: index)
            let outputs = try WhittleError.attaching(context) { () throws -> [NDArray] in
                guard let definition = Registry.definition(domain: node.domain, name: node.opType),
                      let kernel = definition.evaluate else {
                    throw WhittleError(.unsupported, "operator \(node.qualifiedOpType) has no reference kernel")
                }
                let inputTypes = node.inputs.map { $0.isEmpty ? nil : graph.type(of: $0) }
                let inputValues = node.inputs.map { $0.isEmpty ? nil : inference.constants[$0] ?? graph.initializers[$0] }
                let nodeContext = InferenceContext(node: node, opset: model.opset(for: node.domain),
                                                   inputTypes: inputTypes, inputValues: inputValues)
                let outputTypes = node.outputs.map { graph.type(of: $0) ?? TensorType(.float, nil) }
                for (name, type) in zip(node.outputs, outputTypes) where !name.isEmpty {
                    try checkSize(name, type)
                }
                let arguments = try node.inputs.map { name -> NDArray? in
                    if name.isEmpty { return nil }
                    guard let value = values[name] else { throw WhittleError(.invalidGraph, "value \"\(name)\" is not computed") }
                    return value
                }
                var results = try kernel(EvaluationContext(node: nodeContext, inputs: arguments, outputTypes: outputTypes))
                if let activation = FusedActivation(node), let first = results.first {
                    results[0] = first.mapped(float: activation.apply, double: { Double(activation.apply(Float($0))) }, int: { $0 })
                }
                for (k, name) in node.outputs.enumerated() where !name.isEmpty {
                    guard k < results.count, let expected = outputTypes[k].shape, results[k].shape == expected else {
                        throw WhittleError(.shapeMismatch, "the kernel produced a different shape than inferred for \"\(name)\"")
                    }
                }
                return results
            }
            for (name, value) in zip(node.outputs, outputs) where !name.isEmpty {
                values[name] = value
                try trace?(name, value)
            }
        }
        var results: [String: NDArray] = [:]
        for output in graph.outputs {
            guard let value = values[output.name] else {
                throw WhittleError(.invalidGraph, "graph output \"\(output.name)\" was not computed")
            }
            results[output.name] = value
        }
        return results
    }
}
