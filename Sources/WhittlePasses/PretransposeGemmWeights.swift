import WhittleIR
import WhittleOps

/// Pre-transposes a constant Gemm B given as Bᵀ (transB = 1), so the kernel reads it as K×N rows.
public struct PretransposeGemmWeights: GraphPass {
    public let name = "pretranspose-gemm"
    public let summary = "store constant Gemm weights as K×N (transB = 0), the layout the Gemm kernel reads"

    public init() {}

    public func run(_ model: inout Model, types: InferenceResult) throws -> Bool {
        var changed = false
        for index in model.graph.nodes.indices {
            var node = model.graph.nodes[index]
            guard node.opType == "Gemm", Node.isDefaultDomain(node.domain), case .int(let t)? = node.attributes["transB"], t != 0,
                  node.inputs.count >= 2, let b = model.graph.initializers[node.inputs[1]], b.rank == 2 else { continue }
            let rows = b.shape[0], columns = b.shape[1]
            let width = b.elementType.byteWidth ?? 1
            var bytes = [UInt8](repeating: 0, count: b.bytes.count)
            for r in 0..<rows {
                for c in 0..<columns {
                    let from = (r * columns + c) * width, to = (c * rows + r) * width
                    bytes[to..<(to + width)] = b.bytes[from..<(from + width)]
                }
            }
            let name = unique("\(node.inputs[1])_t", in: model.graph)
            model.graph.initializers[name] = try Tensor(elementType: b.elementType, shape: [columns, rows], bytes: bytes)
            node.inputs[1] = name
            node.attributes["transB"] = .int(0)
            model.graph.nodes[index] = node
            changed = true
        }
        return changed
    }
}
