import WhittleIR

/// A model-local function (`ModelProto.functions`), kept as a template to inline.
struct FunctionTemplate {
    var domain: String
    var name: String
    var inputs: [String]
    var outputs: [String]
    /// Defaults for attributes the caller may omit.
    var defaults: [String: Attribute]
    var body: [DecodedNode]
}

/// Replaces calls of model-local functions by their bodies, as PyTorch's dynamo
/// exporter writes them, so the rest of Whittle sees only primitive operators.
struct FunctionInliner {
    /// Functions by domain, name and overload (see ``key(_:_:_:)``).
    var functions: [String: FunctionTemplate]
    /// Deeper nesting than this is taken for recursion.
    static let maximumDepth = 64
    /// More inlined calls than this (functions that call others several times grow exponentially
    /// with depth) are refused rather than expanded.
    static let maximumCalls = 200_000

    static func key(_ domain: String, _ name: String, _ overload: String) -> String { "\(domain)\u{0}\(name)\u{0}\(overload)" }

    func inline(_ graph: inout Graph) throws -> Int {
        guard !functions.isEmpty else { return 0 }
        var taken = Names(Set(graph.inputs.map(\.name)).union(graph.initializers.keys))
        for node in graph.nodes { taken.names.formUnion(node.outputs) }
        var count = 0
        graph.nodes = try expand(graph.nodes, depth: 0, taken: &taken, count: &count)
        return count
    }

    /// Names in use, and for each base name the next suffix to try: calls without names share a
    /// prefix, and probing `_2`, `_3`, … from the start each time would be quadratic.
    struct Names {
        var names: Set<String>
        var next: [String: Int] = [:]

        init(_ names: Set<String>) { self.names = names }

        mutating func fresh(_ base: String, suffixed: (Int) -> String) -> String {
            var candidate = base, suffix = next[base] ?? 1
            if suffix > 1 { candidate = suffixed(suffix) }
            while names.contains(candidate) {
                suffix += 1
                candidate = suffixed(suffix)
            }
            next[base] = suffix
            names.insert(candidate)
            return candidate
        }
    }

    private func expand(_ nodes: [Node], depth: Int, taken: inout Names, count: inout Int) throws -> [Node] {
        var result: [Node] = []
        for (index, original) in nodes.enumerated() {
            var node = original
            let context = NodeContext(index: index, name: node.name, opType: node.qualifiedOpType)
            // Calls can also sit inside If/Loop/Scan bodies.
            for (key, attribute) in node.attributes {
                switch attribute {
                case .graph(var g):
                    count += try inline(&g)
                    node.attributes[key] = .graph(g)
                case .graphs(var gs):
                    for i in gs.indices { count += try inline(&gs[i]) }
                    node.attributes[key] = .graphs(gs)
                default: break
                }
            }
            guard let function = functions[Self.key(node.domain, node.opType, node.overload)] else {
                result.append(node)
                continue
            }
            guard depth < Self.maximumDepth else {
                throw WhittleError(.unsupported, "function \(node.qualifiedOpType) is nested more than \(Self.maximumDepth) deep (recursive?)")
                    .inNode(context)
            }
            guard count < Self.maximumCalls else {
                throw WhittleError(.unsupported, "inlining the model's functions takes more than \(Self.maximumCalls) calls; "
                                   + "functions that call others several times grow exponentially with depth").inNode(context)
            }
            let body = try WhittleError.attaching(context) { try instantiate(function, at: node, taken: &taken) }
            count += 1
            result.append(contentsOf: try expand(body, depth: depth + 1, taken: &taken, count: &count))
        }
        return result
    }

    /// The function's nodes with inputs, outputs and attributes of the call substituted.
    private func instantiate(_ function: FunctionTemplate, at call: Node, taken: inout Names) throws -> [Node] {
        guard call.inputs.count <= function.inputs.count, call.outputs.count <= function.outputs.count else {
            throw WhittleError(.invalidGraph,
                "call passes \(call.inputs.count) inputs and \(call.outputs.count) outputs; function \(function.name) takes \(function.inputs.count) and \(function.outputs.count)")
        }
        var rename: [String: String] = [:]
        for (i, formal) in function.inputs.enumerated() { rename[formal] = i < call.inputs.count ? call.inputs[i] : "" }
        for (i, formal) in function.outputs.enumerated() { rename[formal] = i < call.outputs.count ? call.outputs[i] : "" }
        let prefix = call.name.isEmpty ? function.name : call.name
        func local(_ name: String) -> String {
            if name.isEmpty { return "" }
            if let known = rename[name] { return known }
            let candidate = taken.fresh("\(prefix)/\(name)") { "\(prefix)/\(name)_\($0)" }
            rename[name] = candidate
            return candidate
        }
        var nodes: [Node] = []
        for template in function.body {
            var node = template.node
            node.inputs = node.inputs.map(local)
            node.outputs = node.outputs.map(local)
            node.name = "\(prefix)/\(node.name.isEmpty ? node.opType : node.name)"
            for (attribute, target) in template.references {
                if let value = call.attributes[target] ?? function.defaults[target] {
                    node.attributes[attribute] = value
                }
            }
            for (key, attribute) in node.attributes {
                if case .graph(let g) = attribute { node.attributes[key] = .graph(renamedFreeNames(g, rename)) }
            }
            nodes.append(node)
        }
        return nodes
    }

    /// Renames the values a subgraph reads from the function body it sits in.
    private func renamedFreeNames(_ graph: Graph, _ rename: [String: String]) -> Graph {
        var copy = graph
        var local = Set(graph.inputs.map(\.name)).union(graph.initializers.keys)
        for node in graph.nodes { local.formUnion(node.outputs) }
        for i in copy.nodes.indices {
            copy.nodes[i].inputs = copy.nodes[i].inputs.map { local.contains($0) ? $0 : (rename[$0] ?? $0) }
        }
        return copy
    }
}
