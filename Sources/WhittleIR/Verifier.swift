/// Structural checks of a graph and the topological sort that imports rely on.
public enum Verifier {
    /// Reorders `graph.nodes` topologically, keeping the original order among independent
    /// nodes, and checks that every input is defined exactly once and the graph has no cycle.
    ///
    /// - Parameter outerScope: names visible from enclosing graphs (for subgraphs).
    public static func sortTopologically(_ graph: inout Graph, outerScope: Set<String> = []) throws {
        var producer: [String: Int] = [:]
        var available = outerScope
        for input in graph.inputs { available.insert(input.name) }
        for name in graph.initializers.keys { available.insert(name) }
        for (index, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                if producer[output] != nil || graph.initializers[output] != nil
                    || graph.inputs.contains(where: { $0.name == output }) {
                    throw WhittleError(.invalidGraph, "value \"\(output)\" is produced more than once")
                        .inNode(graph.context(ofNode: index))
                }
                producer[output] = index
            }
        }
        // Each node waits for the producers of its inputs, including values its subgraphs read from this scope.
        var waitingOn = [Int](repeating: 0, count: graph.nodes.count)
        var consumers = [[Int]](repeating: [], count: graph.nodes.count)
        for (index, node) in graph.nodes.enumerated() {
            var needed = Set<Int>()
            for input in node.inputs + subgraphFreeNames(node) where !input.isEmpty {
                if let p = producer[input] {
                    if p == index {
                        throw WhittleError(.invalidGraph, "node reads its own output \"\(input)\" (a cycle)")
                            .inNode(graph.context(ofNode: index))
                    }
                    needed.insert(p)
                } else if !available.contains(input) && node.inputs.contains(input) {
                    throw WhittleError(.invalidGraph, "input \"\(input)\" is not defined by any node, initializer or graph input")
                        .inNode(graph.context(ofNode: index))
                }
            }
            waitingOn[index] = needed.count
            for p in needed.sorted() { consumers[p].append(index) }
        }
        var order: [Int] = []
        order.reserveCapacity(graph.nodes.count)
        var ready = (0..<graph.nodes.count).filter { waitingOn[$0] == 0 }
        var cursor = 0
        // Ready nodes are taken smallest index first so the result is stable.
        while cursor < ready.count {
            let next = ready[cursor]
            cursor += 1
            order.append(next)
            var released: [Int] = []
            for c in consumers[next] {
                waitingOn[c] -= 1
                if waitingOn[c] == 0 { released.append(c) }
            }
            if !released.isEmpty {
                ready.append(contentsOf: released)
                let tail = ready[cursor...].sorted()
                ready.replaceSubrange(cursor..., with: tail)
            }
        }
        if order.count < graph.nodes.count {
            let stuck = (0..<graph.nodes.count).first { waitingOn[$0] > 0 } ?? 0
            throw WhittleError(.invalidGraph, "the graph has a cycle: this node depends on its own output")
                .inNode(graph.context(ofNode: stuck))
        }
        graph.nodes = order.map { graph.nodes[$0] }
        for output in graph.outputs where producer[output.name] == nil && !available.contains(output.name) {
            throw WhittleError(.invalidGraph, "graph output \"\(output.name)\" is not produced by any node")
        }
    }

    /// Checks a graph that is already in order: every input defined before use, every output produced.
    public static func verify(_ graph: Graph, outerScope: Set<String> = []) throws {
        var defined = outerScope
        for input in graph.inputs { defined.insert(input.name) }
        for name in graph.initializers.keys { defined.insert(name) }
        for (index, node) in graph.nodes.enumerated() {
            for input in node.inputs where !input.isEmpty && !defined.contains(input) {
                throw WhittleError(.invalidGraph, "input \"\(input)\" is used before it is defined")
                    .inNode(graph.context(ofNode: index))
            }
            for sub in node.subgraphs {
                try WhittleError.attaching(graph.context(ofNode: index)) {
                    try verify(sub, outerScope: defined)
                }
            }
            for output in node.outputs where !output.isEmpty {
                guard defined.insert(output).inserted else {
                    throw WhittleError(.invalidGraph, "value \"\(output)\" is defined more than once")
                        .inNode(graph.context(ofNode: index))
                }
            }
        }
        for output in graph.outputs where !defined.contains(output.name) {
            throw WhittleError(.invalidGraph, "graph output \"\(output.name)\" is not produced by any node")
        }
    }

    /// Names a node's subgraphs read but do not define: values they take from the enclosing scopes.
    public static func subgraphFreeNames(_ node: Node) -> [String] {
        var names = Set<String>()
        for sub in node.subgraphs { collectFreeNames(sub, into: &names) }
        return names.sorted()
    }

    private static func collectFreeNames(_ graph: Graph, into names: inout Set<String>) {
        var local = Set(graph.inputs.map(\.name)).union(graph.initializers.keys)
        for node in graph.nodes { for output in node.outputs { local.insert(output) } }
        for node in graph.nodes {
            for input in node.inputs where !input.isEmpty && !local.contains(input) { names.insert(input) }
            var inner = Set<String>()
            for sub in node.subgraphs { collectFreeNames(sub, into: &inner) }
            names.formUnion(inner.subtracting(local))
        }
        for output in graph.outputs where !local.contains(output.name) { names.insert(output.name) }
    }
}
