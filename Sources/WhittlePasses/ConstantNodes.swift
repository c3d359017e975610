import WhittleIR
import WhittleOps

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
