import WhittleIR
import WhittleOps

/// Turns binarized layers into bit operations: a Conv (group 1, 2-D) or Gemm whose input is
/// binarized and whose weights are ±α per output channel becomes whittle.BitPack →
/// whittle.BinaryConv, with the weights packed 32 to a word and α (times the input's scale) and
/// the bias applied after the integer dot product. Binarized inputs are recognized in three forms:
/// Where(GreaterOrEqual(x, 0), s, −s) or Where(Not(Less(x, 0)), s, −s) (Whittle's own export,
/// sign(0) = +1), QONNX BipolarQuant(x, s) (sign(0) = +1), and ONNX Sign(x), where sign(0) = 0,
/// which is kept exact with a second bit plane marking the nonzero inputs.
public struct FuseBinary: GraphPass {
    public let name = "fuse-binary"
    public let summary = "binarized Conv/Gemm (±1 inputs, ±α weights per channel) to whittle.BitPack → whittle.BinaryConv"

    public init() {}

    /// A binarized value: the float tensor it is the sign of, its scale, and whether sign(0) = 0.
    struct Binarized: Hashable {
        var source: String
        var scale: Float
        var ternary: Bool
    }

    public func run(_ model: inout Model, types: InferenceResult) throws -> Bool {
        var graph = model.graph
        var producers: [String: Node] = [:]
        for node in graph.nodes { for output in node.outputs where !output.isEmpty { producers[output] = node } }
        // Names in use, built once; each fused layer adds its own.
        var taken = Set(graph.nodes.flatMap(\.outputs)).union(graph.initializers.keys).union(graph.inputs.map(\.name))
        var packed: [Binarized: String] = [:], changed = false
        var index = 0
        while index < graph.nodes.count {
            let node = graph.nodes[index]
            guard let layer = try binaryLayer(node, graph: graph, producers: producers, types: types) else { index += 1; continue }
            let prefix = unique("\(node.name)_binary", &taken)
            graph.initializers[prefix + "_weights"] = layer.weights
            graph.initializers[prefix + "_scale"] = try Tensor(floats: layer.scale, shape: [layer.scale.count])
            graph.initializers[prefix + "_bias"] = try Tensor(floats: layer.bias, shape: [layer.bias.count])
            guard let key = layer.input else {
                // Float inputs: only the weights are binary.
                var attributes = layer.attributes
                attributes["channels"] = nil
                graph.nodes[index] = Node(name: node.name, opType: "BinaryWeightConv", domain: WhittleBinaryOperators.domain,
                                          inputs: [node.inputs[0], prefix + "_weights", prefix + "_scale", prefix + "_bias"],
                                          outputs: [node.outputs[0]], attributes: attributes)
                changed = true
                index += 1
                continue
            }
            var pack = packed[key]
            var inserted = 0
            if pack == nil {
                let name = unique("\(key.source)_bits", &taken)
                graph.nodes.insert(Node(name: "\(node.name)_bitpack", opType: "BitPack", domain: WhittleBinaryOperators.domain,
                                        inputs: [key.source], outputs: [name], attributes: ["ternary": .int(key.ternary ? 1 : 0)]), at: index)
                packed[key] = name
                pack = name
                inserted = 1
            }
            var attributes = layer.attributes
            attributes["channels"] = .int(layer.channels)
            attributes["ternary"] = .int(key.ternary ? 1 : 0)
            graph.nodes[index + inserted] = Node(name: node.name, opType: "BinaryConv", domain: WhittleBinaryOperators.domain,
                                                 inputs: [pack ?? "", prefix + "_weights", prefix + "_scale", prefix + "_bias"],
                                                 outputs: [node.outputs[0]], attributes: attributes)
            changed = true
            index += 1 + inserted
        }
        model.graph = graph
        if changed && model.opsets[WhittleBinaryOperators.domain] == nil { model.opsets[WhittleBinaryOperators.domain] = 1 }
        return changed
    }

    struct Layer {
        /// The binarized input, or nil for float inputs (binary weights only).
        var input: Binarized?
        var weights: Tensor
        var scale: [Float]
        var bias: [Float]
        var channels: Int
        var attributes: [String: Attribute]
    }

    /// A name not in `taken` (which then holds it), from `base`.
    func unique(_ base: String, _ taken: inout Set<String>) -> String {
        var name = base, k = 1
        while taken.contains(name) { k += 1; name = "\(base)_\(k)" }
        taken.insert(name)
        return name
    }

    /// The binary form of a Conv or Gemm node, if it has one.
    func binaryLayer(_ node: Node, graph: Graph, producers: [String: Node], types: InferenceResult) throws -> Layer? {
        guard Node.isDefaultDomain(node.domain), node.opType == "Conv" || node.opType == "Gemm", node.inputs.count >= 2,
              node.attributes[WhittleAttribute.activation] == nil,
              types.graph.type(of: node.inputs[0])?.elementType == .float,
              let w = graph.initializers[node.inputs[1]], w.elementType == .float,
              let x = types.graph.type(of: node.inputs[0])?.shape else { return nil }
        let input = binarized(node.inputs[0], graph: graph, producers: producers)
        let inputScale = input?.scale ?? 1
        // With float inputs, packing pays from a word of weights per output channel on.
        if input == nil, w.count / max(w.shape[0], 1) < 32 && node.opType == "Conv" || input == nil && node.opType == "Gemm" && w.count / max(w.shape.max() ?? 1, 1) < 32 {
            return nil
        }
        let bias = node.inputs.count > 2 && !node.inputs[2].isEmpty ? graph.initializers[node.inputs[2]] : nil
        if node.inputs.count > 2 && !node.inputs[2].isEmpty && bias == nil { return nil }
        let context = InferenceContext(node: node, opset: 13, inputTypes: [], inputValues: [])
        if node.opType == "Conv" {
            guard x.count == 4, w.rank == 4, try context.int("group", default: 1) == 1,
                  try context.string("auto_pad", default: "NOTSET") == "NOTSET" else { return nil }
            let (m, c, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
            guard let (bits, alpha) = pack(w.floats(), rows: m, channels: c, taps: kh * kw, channelStride: kh * kw, tapStride: 1) else { return nil }
            let b = bias?.floats() ?? [Float](repeating: 0, count: m)
            guard b.count == m else { return nil }
            var attributes: [String: Attribute] = ["kernel_shape": .ints([kh, kw])]
            for key in ["strides", "pads", "dilations"] { if let value = node.attributes[key] { attributes[key] = value } }
            return Layer(input: input, weights: bits, scale: alpha.map { $0 * inputScale }, bias: b, channels: c, attributes: attributes)
        }
        // Gemm: y = alpha · x · Wᵀ (or x · W) + beta · C.
        guard x.count == 2, w.rank == 2, try context.int("transA", default: 0) == 0 else { return nil }
        let transB = try context.int("transB", default: 0) != 0
        let alphaScale = try context.float("alpha", default: 1), beta = try context.float("beta", default: 1)
        let (m, k) = transB ? (w.shape[0], w.shape[1]) : (w.shape[1], w.shape[0])
        guard let (bits, alpha) = pack(w.floats(), rows: m, channels: k, taps: 1,
                                       channelStride: transB ? 1 : m, tapStride: 1, rowStride: transB ? k : 1) else { return nil }
        var b = [Float](repeating: 0, count: m)
        if let bias {
            let values = bias.floats()
            guard values.count == m || values.count == 1 else { return nil }
            b = (0..<m).map { beta * values[values.count == 1 ? 0 : $0] }
        }
        return Layer(input: input, weights: bits, scale: alpha.map { $0 * inputScale * alphaScale }, bias: b, channels: k,
                     attributes: ["kernel_shape": .ints([1, 1]), "dense": .int(1)])
    }

    /// Packs weights that are ±α per output row into words ([rows, taps · words], bit set for +α);
    /// nil unless every row has one magnitude. Element (r, c, t) is at r·rowStride + c·channelStride + t·tapStride.
    func pack(_ values: [Float], rows: Int, channels: Int, taps: Int, channelStride: Int, tapStride: Int,
              rowStride: Int? = nil) -> (Tensor, [Float])? {
        let words = WhittleBinaryOperators.words(channels)
        let rowStride = rowStride ?? channels * taps
        guard let alphas = Self.uniformMagnitudes(values, rows: rows, count: channels * taps,
                                                  element: { r, k in r * rowStride + (k / taps) * channelStride + (k % taps) * tapStride })
        else { return nil }
        var bits = [Int64](repeating: 0, count: rows * taps * words)
        for r in 0..<rows {
            for t in 0..<taps {
                for c in 0..<channels where values[r * rowStride + c * channelStride + t * tapStride] > 0 {
                    bits[(r * taps + t) * words + c / 32] |= Int64(1) << Int64(c % 32)
                }
            }
        }
        guard let tensor = try? Tensor(int64s: bits, shape: [rows, taps * words], as: .uint32) else { return nil }
        return (tensor, alphas)
    }

    /// α per row when every one of its `count` elements is ±α (α finite, nonzero); nil otherwise.
    static func uniformMagnitudes(_ values: [Float], rows: Int, count: Int, element: (Int, Int) -> Int) -> [Float]? {
        var alphas: [Float] = []
        for r in 0..<rows {
            let alpha = abs(values[element(r, 0)])
            guard alpha > 0, alpha.isFinite, (0..<count).allSatisfy({ abs(values[element(r, $0)]) == alpha }) else { return nil }
            alphas.append(alpha)
        }
        return alphas
    }

    /// α per output channel of a Conv or Gemm weight whose entries are ±α per channel (the channel
    /// is `channelAxis`: 0, or 1 for an untransposed Gemm); nil otherwise.
    public static func binaryMagnitudes(_ w: Tensor, channelAxis: Int) -> [Float]? {
        guard w.rank >= 2, channelAxis < w.rank else { return nil }
        let values = w.floats()
        let inner = w.shape[(channelAxis + 1)...].reduce(1, *), channels = w.shape[channelAxis], outer = w.count / max(channels * inner, 1)
        return uniformMagnitudes(values, rows: channels, count: outer * inner,
                                 element: { r, k in ((k / inner) * channels + r) * inner + k % inner })
    }

    /// Recognizes a binarized value.
    func binarized(_ value: String, graph: Graph, producers: [String: Node]) -> Binarized? {
        guard let node = producers[value] else { return nil }
        func scalar(_ name: String) -> Float? {
            guard let t = graph.initializers[name], t.count >= 1 else { return nil }
            let v = t.floats()
            return v.allSatisfy { $0 == v[0] } ? v[0] : nil
        }
        switch (node.domain, node.opType) {
        case ("", "Sign"), ("ai.onnx", "Sign"):
            return Binarized(source: node.inputs[0], scale: 1, ternary: true)
        case (WhittleBinaryOperators.qonnxDomain, "BipolarQuant"):
            guard let s = scalar(node.inputs[1]), s > 0, graph.initializers[node.inputs[1]]?.count == 1 else { return nil }
            return Binarized(source: node.inputs[0], scale: s, ternary: false)
        case ("", "Where"), ("ai.onnx", "Where"):
            guard node.inputs.count == 3, let high = scalar(node.inputs[1]), let low = scalar(node.inputs[2]), high > 0, low == -high,
                  let condition = producers[node.inputs[0]] else { return nil }
            // x ≥ 0, written GreaterOrEqual(x, 0) or Not(Less(x, 0)).
            var test = condition, negated = false
            if test.opType == "Not", let inner = producers[test.inputs[0]] { test = inner; negated = true }
            guard test.inputs.count == 2, scalar(test.inputs[1]) == 0,
                  (test.opType == "GreaterOrEqual" && !negated) || (test.opType == "Less" && negated) else { return nil }
            return Binarized(source: test.inputs[0], scale: high, ternary: false)
        default:
            return nil
        }
    }
}
