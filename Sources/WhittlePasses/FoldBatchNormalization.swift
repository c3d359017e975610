import Foundation
import WhittleIR
import WhittleOps

/// Folds an inference BatchNormalization into the Conv, Gemm or MatMul before it:
/// W' = W·s and B' = (B − mean)·s + bias per output channel, with s = scale / sqrt(var + ε).
public struct FoldBatchNormalization: GraphPass {
    public let name = "fold-batchnorm"
    public let summary = "fold BatchNormalization into the preceding Conv, Gemm or MatMul"

    public init() {}

    public func run(_ model: inout Model, types: InferenceResult) throws -> Bool {
        var graph = model.graph
        // Built once: folding rewrites a producer in place and drops its BatchNormalization at the
        // end, which changes no other value's producer or readers.
        var index = ValueIndex(graph)
        let outputs = Set(graph.outputs.map(\.name))
        var removed = Set<Int>()
        for (position, bn) in graph.nodes.enumerated() {
            if bn.opType == "BatchNormalization", Node.isDefaultDomain(bn.domain), bn.outputs.filter({ !$0.isEmpty }).count == 1,
               !NormalizationOperators.isTrainingMode(bn), let producer = index.producer[bn.inputs[0]],
               (try? foldedInto(&graph, bn: bn, types: types, index: index, outputs: outputs)) == true {
                removed.insert(position)
                // The producer now makes the BatchNormalization's output (a second one may fold too).
                for output in bn.outputs where !output.isEmpty { index.producer[output] = producer }
            }
        }
        guard !removed.isEmpty else { return false }
        graph.nodes = graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        model.graph = graph
        return true
    }

    /// Rewrites the producer of the BN input; returns false when the pattern does not apply.
    private func foldedInto(_ graph: inout Graph, bn: Node, types: InferenceResult, index: ValueIndex, outputs: Set<String>) throws -> Bool {
        let x = bn.inputs[0]
        guard let producerIndex = index.producer[x], graph.nodes[producerIndex].outputs.contains(x),
              index.readers[x] == 1, !outputs.contains(x),
              let scale = graph.initializers[bn.inputs[1]]?.floats(), let bias = graph.initializers[bn.inputs[2]]?.floats(),
              let mean = graph.initializers[bn.inputs[3]]?.floats(), let variance = graph.initializers[bn.inputs[4]]?.floats()
        else { return false }
        var producer = graph.nodes[producerIndex]
        guard Node.isDefaultDomain(producer.domain), producer.attributes[WhittleAttribute.activation] == nil else { return false }
        let epsilon: Float
        if case .float(let e)? = bn.attributes["epsilon"] { epsilon = e } else { epsilon = 1e-5 }
        let s = zip(scale, variance).map { $0 / ($1 + epsilon).squareRoot() }
        let channels = s.count
        let weightName: String, biasIndex: Int, channelOf: (Int, [Int]) -> Int
        switch producer.opType {
        case "Conv":
            guard producer.inputs.count >= 2 else { return false }
            weightName = producer.inputs[1]
            biasIndex = 2
            channelOf = { flat, shape in flat / shape[1...].reduce(1, *) }
        case "Gemm", "MatMul":
            guard producer.inputs.count >= 2, types.graph.type(of: x)?.shape?.count == 2 else { return false }
            if producer.opType == "Gemm" {
                for (key, one) in [("alpha", Float(1)), ("beta", Float(1))] {
                    if case .float(let v)? = producer.attributes[key], v != one { return false }
                }
            }
            weightName = producer.inputs[1]
            biasIndex = 2
            let transB: Bool = { if case .int(let t)? = producer.attributes["transB"] { return t != 0 }; return false }()
            channelOf = { flat, shape in transB ? flat / shape[1] : flat % shape[1] }
        default:
            return false
        }
        guard let weights = graph.initializers[weightName], weights.elementType == .float,
              index.readers[weightName] == 1 else { return false }
        if producer.opType == "Gemm" || producer.opType == "MatMul" {
            guard weights.rank == 2 else { return false }
        }
        let w = weights.floats()
        let scaled = w.indices.map { w[$0] * s[channelOf($0, weights.shape) % channels] }
        // The bias may be missing; Gemm's C must then be one value per output channel.
        var b = [Float](repeating: 0, count: channels)
        if biasIndex < producer.inputs.count, !producer.inputs[biasIndex].isEmpty {
            guard let given = graph.initializers[producer.inputs[biasIndex]], given.count == channels || given.count == 1,
                  index.readers[producer.inputs[biasIndex]] == 1 else { return false }
            let values = given.floats()
            b = (0..<channels).map { values[values.count == 1 ? 0 : $0] }
        }
        let folded = (0..<channels).map { (b[$0] - mean[$0]) * s[$0] + bias[$0] }
        let newWeight = unique("\(weightName)_bn", in: graph), newBias = unique("\(bn.outputs[0])_bias", in: graph)
        graph.initializers[newWeight] = try Tensor(floats: scaled, shape: weights.shape)
        graph.initializers[newBias] = try Tensor(floats: folded, shape: [channels])
        if producer.opType == "MatMul" {
            // MatMul has no bias input: it becomes a Gemm.
            producer.opType = "Gemm"
            producer.attributes = [:]
        }
        producer.inputs = [producer.inputs[0], newWeight, newBias]
        producer.outputs[0] = bn.outputs[0]
        graph.nodes[producerIndex] = producer
        return true
    }
}

/// `base`, or `base_2`, `base_3`, ... when the name is taken.
public func unique(_ base: String, in graph: Graph) -> String {
    var taken = Set(graph.initializers.keys).union(graph.inputs.map(\.name))
    for node in graph.nodes { taken.formUnion(node.outputs) }
    var name = base, k = 1
    while taken.contains(name) {
        k += 1
        name = "\(base)_\(k)"
    }
    return name
}
