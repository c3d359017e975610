import WhittleIR
import WhittleOps

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
