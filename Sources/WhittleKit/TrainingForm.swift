import WhittleBinarization
import WhittleIR
import WhittleOps
import WhittlePasses

/// The compression recorded with a distillation export, re-applied by `compile --recipe`.
public struct CompressionRecipe: Codable, Sendable {
    /// A weight that must keep its zeros: the layer, its weight input, and the mask's array in masks.npz.
    public struct Mask: Codable, Sendable {
        public var node: String
        public var input: Int
        public var array: String
        public var sparsity: Double
        /// The weight's name in the compressed model (restored when the training form is folded back).
        public var weight: String?
    }
    /// An int8 weight: its quantization parameters as the emitter uses them.
    public struct QuantizedWeight: Codable, Sendable {
        public var node: String
        public var weight: String
        public var scale: [Float]
        public var zeroPoint: [Int64]
        public var axis: Int
    }
    /// A binarized layer: its weight is α·sign(W) per output channel (α = mean |W|).
    public struct Binarized: Codable, Sendable {
        public var node: String
        public var channelAxis: Int
        public var weight: String?
    }

    public var masksFile: String?
    public var masks: [Mask] = []
    public var quantized: [QuantizedWeight] = []
    /// Whether activations are quantized (QDQ pairs in the graph, with their recorded parameters).
    public var quantizedActivations = false
    public var binarized: [Binarized] = []
}

/// Turns a compressed model into a trainable one with the same compression, and back.
///
/// Training form: float master weights everywhere; a pruned weight W is read as Mul(W, mask)
/// (the mask is a constant, so masked weights stay zero under any update); an int8 weight is read
/// as DequantizeLinear(QuantizeLinear(W, s, z), s, z) with exactly the emitter's scale and zero
/// point (fake quantization; the activations' QDQ pairs stay as they are); a binarized weight is
/// read as Where(W ≥ 0, 1, −1) · ReduceMean(|W|) per output channel, which a trainer differentiates
/// with a straight-through estimator. Everything is standard ONNX that ONNX Runtime runs.
public enum TrainingForm {
    /// Weight inputs of the layers compression touches: (node index, input index).
    static func weightInputs(_ graph: Graph) -> [(Int, Int)] {
        graph.nodes.enumerated().compactMap { index, node in
            guard Node.isDefaultDomain(node.domain) else { return nil }
            switch node.opType {
            case "Conv", "ConvTranspose", "Gemm", "MatMul": return node.inputs.count > 1 ? (index, 1) : nil
            default: return nil
            }
        }
    }

    /// The training form of `compressed` and its recipe. `masters` gives float master weights for
    /// binarized layers by node name (the teacher's weights), when known.
    public static func make(_ compressed: Model, masters: [String: Tensor] = [:], binarizedLayers: Set<String> = [],
                            maskedLayers: Set<String>? = nil) throws -> (model: Model, recipe: CompressionRecipe, masks: [(String, Tensor)]) {
        var graph = compressed.graph
        var recipe = CompressionRecipe(), masks: [(String, Tensor)] = []
        var producer: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { for o in node.outputs where !o.isEmpty { producer[o] = i } }
        let opset = compressed.opset(for: "")
        var added: [Node] = []
        func fresh(_ base: String) -> String {
            var name = base, k = 1
            while graph.initializers[name] != nil || producer[name] != nil || added.contains(where: { $0.outputs.contains(name) }) { k += 1; name = "\(base)_\(k)" }
            return name
        }
        for (index, input) in weightInputs(graph) {
            let node = graph.nodes[index]
            let value = node.inputs[input]
            if let dq = producer[value], graph.nodes[dq].opType == "DequantizeLinear", let q = graph.initializers[graph.nodes[dq].inputs[0]],
               let scale = graph.initializers[graph.nodes[dq].inputs[1]] {
                // int8 weight: master = dequantized values, fake-quantized with the same parameters.
                let dqNode = graph.nodes[dq]
                let zeroName = dqNode.inputs.count > 2 ? dqNode.inputs[2] : ""
                let zero = zeroName.isEmpty ? [Int64(0)] : (graph.initializers[zeroName]?.int64s() ?? [0])
                let axis: Int = { if case .int(let a)? = dqNode.attributes["axis"] { return a < 0 ? a + q.rank : a }; return 1 }()
                let master = try dequantize(q, scale: scale.floats(), zero: zero, axis: scale.count == 1 ? nil : axis)
                var weight = fresh(dqNode.inputs[0] + "_master")
                graph.initializers[weight] = master
                if maskedLayers?.contains(node.name) ?? true, let mask = try maskOf(q, zero: zero, axis: scale.count == 1 ? nil : axis),
                   maskedLayers != nil || mask.sparsity >= 0.3 {
                    let maskName = fresh(weight + "_mask")
                    graph.initializers[maskName] = mask.tensor
                    masks.append((maskName, mask.tensor))
                    recipe.masks.append(.init(node: node.name, input: input, array: maskName, sparsity: mask.sparsity, weight: nil))
                    let masked = fresh(weight + "_masked")
                    added.append(Node(name: masked, opType: "Mul", inputs: [weight, maskName], outputs: [masked]))
                    weight = masked
                }
                let quantized = fresh(dqNode.inputs[0] + "_fake")
                var attributes: [String: Attribute] = [:]
                if scale.count != 1 { attributes["axis"] = .int(axis) }
                added.append(Node(name: quantized, opType: "QuantizeLinear", inputs: [weight, dqNode.inputs[1]] + (zeroName.isEmpty ? [] : [zeroName]),
                                  outputs: [quantized], attributes: attributes))
                graph.nodes[dq].inputs[0] = quantized
                recipe.quantized.append(.init(node: node.name, weight: dqNode.inputs[0], scale: scale.floats(), zeroPoint: zero, axis: axis))
                continue
            }
            guard let w = graph.initializers[value], w.elementType == .float else { continue }
            let axis = node.opType == "Gemm" && node.attributes["transB"] != .int(1) || node.opType == "MatMul" ? 1 : 0
            if binarizedLayers.contains(node.name) {
                let master = masters[node.name].flatMap { $0.shape == w.shape ? $0 : nil } ?? w
                let name = fresh(value + "_master")
                graph.initializers[name] = master
                added += try steNodes(master: name, output: value + "_binary", rank: w.rank, channelAxis: axis, opset: opset, graph: &graph)
                graph.nodes[index].inputs[input] = value + "_binary"
                recipe.binarized.append(.init(node: node.name, channelAxis: axis, weight: value))
                continue
            }
            if maskedLayers?.contains(node.name) ?? true, let mask = try maskOf(w, zero: nil, axis: nil) {
                let maskName = fresh(value + "_mask"), masked = fresh(value + "_masked")
                graph.initializers[maskName] = mask.tensor
                masks.append((maskName, mask.tensor))
                recipe.masks.append(.init(node: node.name, input: input, array: maskName, sparsity: mask.sparsity, weight: value))
                added.append(Node(name: masked, opType: "Mul", inputs: [value, maskName], outputs: [masked]))
                graph.nodes[index].inputs[input] = masked
            }
        }
        recipe.quantizedActivations = graph.nodes.contains { $0.opType == "QuantizeLinear" && graph.initializers[$0.inputs[0]] == nil && !$0.name.hasSuffix("_fake") }
        graph.nodes += added
        // The int8 weights the fake quantization replaced are no longer read.
        let read = Set(graph.nodes.flatMap(\.inputs))
        for name in graph.initializers.keys where !read.contains(name) && !graph.outputs.contains(where: { $0.name == name }) {
            graph.initializers[name] = nil
        }
        try Verifier.sortTopologically(&graph)
        var model = compressed
        model.graph = graph
        if !masks.isEmpty { recipe.masksFile = "masks.npz" }
        return (model, recipe, masks)
    }

    /// Where(W ≥ 0, 1, −1) · ReduceMean(|W|) over all but the channel axis.
    static func steNodes(master: String, output: String, rank: Int, channelAxis: Int, opset: Int, graph: inout Graph) throws -> [Node] {
        let axes = (0..<rank).filter { $0 != channelAxis }
        graph.initializers[master + "_zero"] = try Tensor(floats: [0], shape: [])
        graph.initializers[master + "_plus"] = try Tensor(floats: [1], shape: [])
        graph.initializers[master + "_minus"] = try Tensor(floats: [-1], shape: [])
        var nodes = [
            Node(name: master + "/ge", opType: "GreaterOrEqual", inputs: [master, master + "_zero"], outputs: [master + "_positive"]),
            Node(name: master + "/sign", opType: "Where", inputs: [master + "_positive", master + "_plus", master + "_minus"], outputs: [master + "_sign"]),
            Node(name: master + "/abs", opType: "Abs", inputs: [master], outputs: [master + "_abs"]),
        ]
        if opset >= 18 {
            graph.initializers[master + "_axes"] = try Tensor(int64s: axes.map(Int64.init), shape: [axes.count])
            nodes.append(Node(name: master + "/alpha", opType: "ReduceMean", inputs: [master + "_abs", master + "_axes"], outputs: [master + "_alpha"],
                              attributes: ["keepdims": .int(1)]))
        } else {
            nodes.append(Node(name: master + "/alpha", opType: "ReduceMean", inputs: [master + "_abs"], outputs: [master + "_alpha"],
                              attributes: ["axes": .ints(axes), "keepdims": .int(1)]))
        }
        nodes.append(Node(name: master + "/binary", opType: "Mul", inputs: [master + "_sign", master + "_alpha"], outputs: [output]))
        return nodes
    }

    /// 1 where the weight is not zero (or not the zero point), 0 elsewhere; nil without zeros.
    static func maskOf(_ w: Tensor, zero: [Int64]?, axis: Int?) throws -> (tensor: Tensor, sparsity: Double)? {
        var keep: [Float]
        if let zero, let q = w.int64s() {
            let inner = axis.map { w.shape[($0 + 1)...].reduce(1, *) } ?? 1, channels = axis.map { w.shape[$0] } ?? 1
            keep = q.indices.map { i in q[i] == zero[zero.count == 1 ? 0 : (i / inner) % channels] ? 0 : 1 }
        } else {
            keep = w.floats().map { $0 == 0 ? 0 : 1 }
        }
        let zeros = keep.filter { $0 == 0 }.count
        guard zeros > 0 else { return nil }
        return (try Tensor(floats: keep, shape: w.shape), Double(zeros) / Double(max(keep.count, 1)))
    }

    static func dequantize(_ q: Tensor, scale: [Float], zero: [Int64], axis: Int?) throws -> Tensor {
        let values = q.int64s() ?? []
        let inner = axis.map { q.shape[($0 + 1)...].reduce(1, *) } ?? 1, channels = axis.map { q.shape[$0] } ?? 1
        return try Tensor(floats: values.indices.map { i in
            let c = axis == nil ? 0 : (i / inner) % channels
            return Float(values[i] - zero[zero.count == 1 ? 0 : c]) * scale[scale.count == 1 ? 0 : c]
        }, shape: q.shape)
    }
}

extension TrainingForm {
    /// A retrained model back in compiled form with exactly the recorded compression: constant
    /// parts folded (masks multiplied in, fake-quantized weights to int8, binarized weights to ±α),
    /// then every recorded mask and binarization applied again, so a trainer that exported plain
    /// weights still gets the same zeros and signs. Quantization parameters travel in the model.
    public static func bake(_ model: Model, recipe: CompressionRecipe, masks: [String: Tensor]) throws -> Model {
        var (baked, _) = try PassPipeline(passes: [FoldConstants(keeping: ["DequantizeLinear"]), RemoveDeadNodes()]).run(model)
        var graph = baked.graph
        // Folded weights take back the names they had in the compressed model (the master copies they
        // were computed from are no longer read), so the emitted C is the compressed model's.
        let read = Set(graph.nodes.flatMap(\.inputs))
        for name in graph.initializers.keys where !read.contains(name) && !graph.outputs.contains(where: { $0.name == name }) { graph.initializers[name] = nil }
        var restore: [(node: String, input: Int, name: String)] = recipe.masks.compactMap { m in m.weight.map { (m.node, m.input, $0) } }
        restore += recipe.binarized.compactMap { b in b.weight.map { (b.node, 1, $0) } }
        for r in restore {
            guard let index = graph.nodes.firstIndex(where: { $0.name == r.node }), r.input < graph.nodes[index].inputs.count else { continue }
            let current = graph.nodes[index].inputs[r.input]
            guard current != r.name, graph.initializers[r.name] == nil, let tensor = graph.initializers[current],
                  graph.nodes.filter({ $0.inputs.contains(current) }).count == 1 else { continue }
            graph.initializers[current] = nil
            graph.initializers[r.name] = tensor
            graph.nodes[index].inputs[r.input] = r.name
        }
        for q in recipe.quantized {
            // DequantizeLinear(QuantizeLinear(W)) folded: its integer input takes back the int8 weight's name.
            guard let index = graph.nodes.firstIndex(where: { $0.name == q.node }), q.weight.count > 0 else { continue }
            let value = graph.nodes[index].inputs[1]
            guard let dq = graph.nodes.firstIndex(where: { $0.outputs.first == value && $0.opType == "DequantizeLinear" }) else { continue }
            let current = graph.nodes[dq].inputs[0]
            guard current != q.weight, graph.initializers[q.weight] == nil, let tensor = graph.initializers[current] else { continue }
            graph.initializers[current] = nil
            graph.initializers[q.weight] = tensor
            graph.nodes[dq].inputs[0] = q.weight
        }
        var producer: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { for o in node.outputs where !o.isEmpty { producer[o] = i } }
        func layer(_ name: String) throws -> Node {
            guard let node = graph.nodes.first(where: { $0.name == name }) else {
                throw WhittleError(.usage, "the recipe names layer \"\(name)\", which the model does not have")
            }
            return node
        }
        for entry in recipe.masks {
            let node = try layer(entry.node)
            guard entry.input < node.inputs.count, let mask = masks[entry.array] else {
                throw WhittleError(.usage, "the recipe's mask \"\(entry.array)\" is missing")
            }
            var value = node.inputs[entry.input]
            var zero: [Int64]? = nil, axis: Int? = nil
            if let dq = producer[value], graph.nodes[dq].opType == "DequantizeLinear" {
                let d = graph.nodes[dq]
                value = d.inputs[0]
                zero = d.inputs.count > 2 && !d.inputs[2].isEmpty ? graph.initializers[d.inputs[2]]?.int64s() : [0]
                if (graph.initializers[d.inputs[1]]?.count ?? 1) > 1, let rank = graph.initializers[value]?.rank {
                    // Per-axis parameters: the attribute (default 1), normalized.
                    let a: Int = { if case .int(let v)? = d.attributes["axis"] { return v }; return 1 }()
                    axis = a < 0 ? a + rank : a
                }
            }
            guard let w = graph.initializers[value], w.shape == mask.shape else {
                throw WhittleError(.usage, "layer \"\(entry.node)\": its weights do not match the recipe's mask \(Shape.describe(mask.shape))")
            }
            let keep = mask.floats()
            if let zero, var q = w.int64s() {
                let inner = axis.map { w.shape[($0 + 1)...].reduce(1, *) } ?? 1, channels = axis.map { w.shape[$0] } ?? 1
                for i in q.indices where keep[i] == 0 { q[i] = zero[zero.count == 1 ? 0 : (i / inner) % channels] }
                graph.initializers[value] = try Tensor(int64s: q, shape: w.shape, as: w.elementType)
            } else {
                graph.initializers[value] = try Tensor(floats: zip(w.floats(), keep).map { $1 == 0 ? 0 : $0 }, shape: w.shape)
            }
        }
        for entry in recipe.binarized {
            let node = try layer(entry.node)
            guard node.inputs.count > 1, let w = graph.initializers[node.inputs[1]], w.elementType == .float else {
                throw WhittleError(.usage, "binarized layer \"\(entry.node)\" has no constant float weights")
            }
            graph.initializers[node.inputs[1]] = try Binarizer.signs(w, channelAxis: entry.channelAxis)
        }
        baked.graph = graph
        return baked
    }
}
