import WhittleIR
import WhittleOps

/// Fuses an activation into the Conv, Gemm, MatMul or Add that produces its input,
/// so the kernel applies it as it stores each result.
public struct FuseActivations: GraphPass {
    public let name = "fuse-activation"
    public let summary = "fuse Relu, Clip, LeakyRelu, Sigmoid, HardSwish or Tanh into the preceding Conv, Gemm, MatMul or Add"

    static let producers: Set<String> = ["Conv", "Gemm", "MatMul", "Add"]
    static let activations = Set(ActivationKind.allCases.map(\.rawValue))

    public init() {}

    public func run(_ model: inout Model, types: InferenceResult) throws -> Bool {
        var graph = model.graph
        // One linear sweep: an activation whose input has one reader, made by an unfused producer,
        // moves into that producer; fusions never depend on each other (a fused producer takes no second one).
        let index = ValueIndex(graph)
        let outputs = Set(graph.outputs.map(\.name))
        var removed = Set<Int>()
        for (position, activation) in graph.nodes.enumerated() {
            guard Node.isDefaultDomain(activation.domain), Self.activations.contains(activation.opType),
                  let x = activation.inputs.first, !outputs.contains(x), index.readers[x] == 1,
                  let p = index.producer[x], graph.nodes[p].outputs.first == x,
                  Node.isDefaultDomain(graph.nodes[p].domain), Self.producers.contains(graph.nodes[p].opType),
                  graph.nodes[p].attributes[WhittleAttribute.activation] == nil,
                  types.graph.type(of: x)?.elementType == .float,
                  let parameters = parameters(of: activation, graph: graph, opset: model.opset(for: ""))
            else { continue }
            var producer = graph.nodes[p]
            producer.attributes[WhittleAttribute.activation] = .string(activation.opType)
            for (key, value) in parameters { producer.attributes[key] = .float(value) }
            producer.outputs[0] = activation.outputs[0]
            graph.nodes[p] = producer
            removed.insert(position)
        }
        guard !removed.isEmpty else { return false }
        graph.nodes = graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        model.graph = graph
        return true
    }

    /// The fused parameters, or nil when they are not compile-time constants.
    private func parameters(of node: Node, graph: Graph, opset: Int) -> [String: Float]? {
        switch node.opType {
        case "LeakyRelu":
            if case .float(let a)? = node.attributes["alpha"] { return [WhittleAttribute.activationAlpha: a] }
            return [WhittleAttribute.activationAlpha: 0.01]
        case "Clip":
            var bounds: [String: Float] = [:]
            if opset < 11 {
                if case .float(let v)? = node.attributes["min"] { bounds[WhittleAttribute.activationMin] = v }
                if case .float(let v)? = node.attributes["max"] { bounds[WhittleAttribute.activationMax] = v }
                return bounds
            }
            for (position, key) in [(1, WhittleAttribute.activationMin), (2, WhittleAttribute.activationMax)]
            where position < node.inputs.count && !node.inputs[position].isEmpty {
                guard let value = graph.initializers[node.inputs[position]]?.floats().first else { return nil }
                bounds[key] = value
            }
            return bounds
        default:
            return [:]
        }
    }
}
