import WhittleIR
import WhittleOps

/// The narrow types in C: float16, bfloat16, the 8- and 4-bit floats and the 4- and 2-bit integers keep
/// their storage (graph inputs and outputs, weights, and operators that only move bytes: not packed
/// types), Cast converts them directly and QuantizeLinear/DequantizeLinear read and write them; every
/// other operator computes in float (int8/uint8 for the small integers) between a Cast of its narrow
/// inputs and a Cast back of its narrow outputs. The interpreter computes such operators the same way
/// (in float, rounding the results to the type without saturating), so the lowered graph gives the
/// same values. Constant narrow inputs are widened at compile time.
public enum HalfPrecisionLowering {
    /// Operators whose C only copies elements, whatever their type.
    static let storageOperators: Set<String> = [
        "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Transpose", "Concat", "Split", "Slice", "Gather",
        "GatherElements", "GatherND", "Expand", "Tile", "DepthToSpace", "SpaceToDepth", "Cast", "CastLike", "Shape", "Size",
        "Constant",
    ]

    /// The type an operator computes a narrow type in; nil for the other types.
    static func wide(_ type: ElementType?) -> ElementType? {
        guard let type else { return nil }
        switch type {
        case .float16, .bfloat16: return .float
        case .int4, .int2: return .int8
        case .uint4, .uint2: return .uint8
        default: return type.isMiniFloat ? .float : nil
        }
    }

    /// Whether `node` computes on its value of `type` in a wider type.
    static func widens(_ node: Node, _ type: ElementType?) -> Bool {
        guard let type, wide(type) != nil else { return false }
        switch node.opType {
        case "Cast", "CastLike": return false
        case "QuantizeLinear", "DequantizeLinear": return type == .float16 || type == .bfloat16
        case _ where storageOperators.contains(node.opType): return type.isPacked
        default: return true
        }
    }

    /// The first operand (value name and type) of `node` held in a narrow type that its C cannot read
    /// or write: after lowering, only Cast, QuantizeLinear/DequantizeLinear and the byte-moving
    /// operators keep narrow operands. The C emitter refuses such a node rather than let a kernel
    /// written for bytes or floats walk packed 4-bit data.
    public static func unhandledOperand(_ node: Node, type: (String) -> ElementType?) -> (String, ElementType)? {
        for name in node.inputs + node.outputs where !name.isEmpty {
            guard let elementType = type(name), wide(elementType) != nil else { continue }
            if !Node.isDefaultDomain(node.domain) || widens(node, elementType) { return (name, elementType) }
        }
        return nil
    }

    /// The attribute naming the 16-bit type a lowered Softmax or Attention rounds its steps to.
    public static let stepTypeAttribute = "whittle_step_type"

    /// Rewrites `model` (whose types are `types`); returns whether it changed anything.
    public static func lower(_ model: inout Model, types: InferenceResult) throws -> Bool {
        let graph = types.graph
        var taken = Set(graph.inputs.map(\.name)).union(graph.initializers.keys)
        for node in graph.nodes { taken.formUnion(node.outputs) }
        func fresh(_ base: String) -> String {
            var name = base + "_f32", suffix = 1
            while taken.contains(name) {
                suffix += 1
                name = "\(base)_f32_\(suffix)"
            }
            taken.insert(name)
            return name
        }
        var widened: [String: String] = [:]
        var nodes: [Node] = []
        var changed = false
        for node in graph.nodes {
            let inputTypes = node.inputs.map { $0.isEmpty ? nil : graph.type(of: $0)?.elementType }
            let outputTypes = node.outputs.map { $0.isEmpty ? nil : graph.type(of: $0)?.elementType }
            guard Node.isDefaultDomain(node.domain), (inputTypes + outputTypes).contains(where: { widens(node, $0) }) else {
                nodes.append(node)
                continue
            }
            changed = true
            var lowered = node, after: [Node] = []
            // Softmax and Attention round each step in their 16-bit type (as the interpreter does); the C
            // kernels read that type from this attribute once the node computes in float.
            if ["Softmax", "Attention"].contains(node.opType), let first = inputTypes.first ?? nil, first == .float16 || first == .bfloat16 {
                lowered.attributes[stepTypeAttribute] = .int(Int(first.rawValue))
            }
            for (i, name) in node.inputs.enumerated() where widens(node, inputTypes[i]) {
                guard let target = wide(inputTypes[i]) else { continue }
                if let existing = widened[name] {
                    lowered.inputs[i] = existing
                    continue
                }
                let wide = fresh(name)
                widened[name] = wide
                if let constant = graph.initializers[name] {
                    model.graph.initializers[wide] = try NDArray(constant).converted(to: target).tensor()
                } else {
                    nodes.append(Node(name: wide + "_cast", opType: "Cast", inputs: [name], outputs: [wide],
                                      attributes: ["to": .int(Int(target.rawValue))]))
                }
                lowered.inputs[i] = wide
            }
            for (k, name) in node.outputs.enumerated() where widens(node, outputTypes[k]) {
                guard let type = outputTypes[k] else { continue }
                let wide = fresh(name)
                lowered.outputs[k] = wide
                // Rounded back without saturating, as the interpreter rounds an operator's result.
                after.append(Node(name: name + "_cast", opType: "Cast", inputs: [wide], outputs: [name],
                                  attributes: ["to": .int(Int(type.rawValue)), "saturate": .int(0)]))
            }
            nodes.append(lowered)
            nodes += after
        }
        guard changed else { return false }
        model.graph.nodes = nodes
        return true
    }
}
