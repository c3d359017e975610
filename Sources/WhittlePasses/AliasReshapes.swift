import WhittleIR
import WhittleOps

/// Marks Reshape, Flatten, Squeeze and Unsqueeze as aliases: their output shares the input's memory.
public struct AliasReshapes: GraphPass {
    public let name = "alias-reshapes"
    public let summary = "make Reshape, Flatten, Squeeze and Unsqueeze zero-copy views of their input"

    public init() {}

    public func run(_ model: inout Model, types: InferenceResult) throws -> Bool {
        var changed = false
        let inputs = Set(model.graph.inputs.map(\.name))
        for index in model.graph.nodes.indices {
            let node = model.graph.nodes[index]
            guard Node.isDefaultDomain(node.domain), ["Reshape", "Flatten", "Squeeze", "Unsqueeze"].contains(node.opType),
                  let output = node.outputs.first, !model.graph.isOutput(output),
                  let input = node.inputs.first, !inputs.contains(input) else { continue }
            model.graph.nodes[index].attributes[WhittleAttribute.alias] = .int(1)
            changed = true
        }
        return changed
    }
}
