import WhittleIR
import WhittleOps

/// Removes nodes whose outputs nothing reads, and initializers nothing reads.
public struct RemoveDeadNodes: GraphPass {
    public let name = "remove-dead"
    public let summary = "remove nodes and initializers whose values are never used"

    public init() {}

    public func run(_ model: inout Model, types: InferenceResult) throws -> Bool {
        var graph = model.graph
        var live = Set(graph.outputs.map(\.name))
        var keep = [Bool](repeating: false, count: graph.nodes.count)
        for index in graph.nodes.indices.reversed() {
            let node = graph.nodes[index]
            if node.outputs.contains(where: live.contains) {
                keep[index] = true
                live.formUnion(node.inputs.filter { !$0.isEmpty })
                live.formUnion(Verifier.subgraphFreeNames(node))
            }
        }
        let before = (graph.nodes.count, graph.initializers.count)
        graph.nodes = graph.nodes.indices.filter { keep[$0] }.map { graph.nodes[$0] }
        graph.initializers = graph.initializers.filter { live.contains($0.key) }
        model.graph = graph
        return before != (graph.nodes.count, graph.initializers.count)
    }
}
