import WhittleIR
import WhittleOps
import WhittlePasses

/// Before quantization: a MatMul of a batched activation [d0, …, K] by a constant K × N matrix (the
/// projections of a transformer) becomes Reshape to [d0·…, K], the 2-D MatMul and Reshape back, so the
/// product quantizes into an integer matrix kernel. The result is the same computation in standard ONNX.
struct MatMulAsMatrix: GraphPass {
    let name = "matmul-as-matrix"
    let summary = "batched MatMul by a constant matrix as Reshape, 2-D MatMul, Reshape (for integer kernels)"

    func run(_ model: inout Model, types: InferenceResult) throws -> Bool {
        var graph = model.graph
        var nodes: [Node] = []
        var changed = false
        var taken = Set(graph.initializers.keys).union(graph.nodes.flatMap(\.outputs)).union(graph.inputs.map(\.name))
        func fresh(_ base: String) -> String {
            var name = base, k = 1
            while taken.contains(name) { k += 1; name = "\(base)_\(k)" }
            taken.insert(name)
            return name
        }
        for node in graph.nodes {
            guard node.opType == "MatMul", Node.isDefaultDomain(node.domain), node.inputs.count == 2, node.outputs.count == 1,
                  let b = graph.initializers[node.inputs[1]], b.elementType == .float, b.rank == 2,
                  let a = types.graph.type(of: node.inputs[0]), a.elementType == .float, let shape = a.shape, shape.count > 2,
                  shape.last == b.shape[0], shape.allSatisfy({ $0 > 0 }) else {
                nodes.append(node)
                continue
            }
            let base = node.name.isEmpty ? node.outputs[0] : node.name
            let rows = shape.dropLast().reduce(1, *)
            let flatShape = fresh(base + "_matrix_shape"), backShape = fresh(base + "_batched_shape")
            let flat = fresh(base + "_matrix_input"), product = fresh(base + "_matrix_output")
            graph.initializers[flatShape] = try Tensor(int64s: [Int64(rows), Int64(b.shape[0])], shape: [2])
            graph.initializers[backShape] = try Tensor(int64s: (shape.dropLast() + [b.shape[1]]).map(Int64.init), shape: [shape.count])
            nodes.append(Node(name: fresh(base + "_to_matrix"), opType: "Reshape", inputs: [node.inputs[0], flatShape], outputs: [flat]))
            var matrix = node
            matrix.inputs = [flat, node.inputs[1]]
            matrix.outputs = [product]
            nodes.append(matrix)
            nodes.append(Node(name: fresh(base + "_batched"), opType: "Reshape", inputs: [product, backShape], outputs: node.outputs))
            changed = true
        }
        graph.nodes = nodes
        model.graph = graph
        return changed
    }
}
