import WhittleIR
import WhittleOps

/// float16 and bfloat16 in C: tensors keep their 16-bit storage (graph inputs and outputs, weights,
/// operators that only move data), and every other operator computes in float between a Cast of its
/// 16-bit inputs and a Cast back of its 16-bit outputs. The interpreter computes such operators the
/// same way (in float, rounding the results to the type), so the lowered graph gives the same values.
/// Constant 16-bit inputs are widened at compile time.
public enum HalfPrecisionLowering {
    /// Operators whose C only copies elements, whatever their type.
    static let storageOperators: Set<String> = [
        "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Transpose", "Concat", "Split", "Slice", "Gather",
        "GatherElements", "GatherND", "Expand", "Tile", "DepthToSpace", "SpaceToDepth", "Cast", "CastLike", "Shape", "Size",
        "Constant",
    ]

    static func isHalf(_ type: ElementType?) -> Bool { type == .float16 || type == .bfloat16 }

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
            guard Node.isDefaultDomain(node.domain), !storageOperators.contains(node.opType),
                  (inputTypes + outputTypes).contains(where: isHalf) else {
                nodes.append(node)
                continue
            }
            changed = true
            var lowered = node, after: [Node] = []
            for (i, name) in node.inputs.enumerated() where isHalf(inputTypes[i]) {
                if let existing = widened[name] {
                    lowered.inputs[i] = existing
                    continue
                }
                let wide = fresh(name)
                widened[name] = wide
                if let constant = graph.initializers[name] {
                    model.graph.initializers[wide] = try Tensor(floats: NDArray(constant).floats, shape: constant.shape)
                } else {
                    nodes.append(Node(name: wide + "_cast", opType: "Cast", inputs: [name], outputs: [wide],
                                      attributes: ["to": .int(Int(ElementType.float.rawValue))]))
                }
                lowered.inputs[i] = wide
            }
            for (k, name) in node.outputs.enumerated() where isHalf(outputTypes[k]) {
                guard let type = outputTypes[k] else { continue }
                let wide = fresh(name)
                lowered.outputs[k] = wide
                after.append(Node(name: name + "_cast", opType: "Cast", inputs: [wide], outputs: [name],
                                  attributes: ["to": .int(Int(type.rawValue))]))
            }
            nodes.append(lowered)
            nodes += after
        }
        guard changed else { return false }
        model.graph.nodes = nodes
        return true
    }
}
