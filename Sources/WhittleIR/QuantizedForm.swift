/// What makes a graph already quantized, for the compression commands that work on float models
/// (quantize, binarize) and refuse to stack on an integer one.
extension Graph {
    /// The operators that compute on or produce quantized integers: QuantizeLinear/DequantizeLinear,
    /// DynamicQuantizeLinear, the QLinear* family, ConvInteger, MatMulInteger and ONNX Runtime's QGemm.
    public static func isQuantizationOperator(_ node: Node) -> Bool {
        let op = node.opType
        return ["QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "ConvInteger", "MatMulInteger", "QGemm"].contains(op)
            || op.hasPrefix("QLinear")
    }

    /// A short description of the graph's quantization operators ("14 QuantizeLinear, 22 DequantizeLinear"),
    /// most frequent first; nil for a float graph.
    public var quantizationSummary: String? {
        var counts: [String: Int] = [:]
        for node in nodes where Self.isQuantizationOperator(node) { counts[node.opType, default: 0] += 1 }
        guard !counts.isEmpty else { return nil }
        return counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    }
}
