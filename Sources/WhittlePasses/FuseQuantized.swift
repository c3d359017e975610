import WhittleIR
import WhittleOps

/// Turns the DequantizeLinear → float op → QuantizeLinear patterns of QDQ models into
/// integer operators, so quantized layers never run in float between a dequantize and a
/// quantize: Conv → QLinearConv, Gemm → QGemm, Add → QLinearAdd, AveragePool →
/// QLinearAveragePool, GlobalAveragePool → QLinearGlobalAveragePool, Softmax → whittle.QSoftmax; MaxPool and the
/// reshaping ops, which commute with quantization, run on the integer tensor directly.
public struct FuseQuantized: GraphPass {
    public let name = "fuse-qdq"
    public let summary = "fuse DequantizeLinear → op → QuantizeLinear into integer operators (QLinearConv, QGemm, ...)"

    public init() {}

    /// A dequantized value: the integer tensor and its (constant) scale and zero point.
    struct Dequantized {
        var integer: String
        var scale: String
        var zeroPoint: String?
        var axis: Int
    }

    public func run(_ model: inout Model, types: InferenceResult) throws -> Bool {
        var graph = model.graph
        var changed = false
        // Built once: fusing a node never changes who reads a later node's output or who makes a
        // DequantizeLinear's output, and the QuantizeLinear nodes fused away are dropped at the end.
        var lookup = Lookup(index: ValueIndex(graph), outputs: Set(graph.outputs.map(\.name)))
        for (position, node) in graph.nodes.enumerated() where Node.isDefaultDomain(node.domain) {
            guard let input = node.inputs.first else { continue }
            if node.opType == "QuantizeLinear" { lookup.quantizers[input] = position }
            if node.opType == "Relu" || node.opType == "Clip" { lookup.activations[input] = position }
        }
        for index in graph.nodes.indices where !lookup.removed.contains(index) {
            if let replacement = try fused(graph.nodes[index], graph: &graph, model: model, lookup: &lookup) {
                graph.nodes[index] = replacement
                changed = true
            }
        }
        if !lookup.removed.isEmpty { graph.nodes = graph.nodes.enumerated().filter { !lookup.removed.contains($0.offset) }.map(\.element) }
        model.graph = graph
        for domain in ["com.microsoft", WhittleQuantizedOperators.domain]
        where changed && graph.nodes.contains(where: { $0.domain == domain }) && model.opsets[domain] == nil {
            model.opsets[domain] = 1
        }
        return changed
    }

    /// The graph's producers, readers and QuantizeLinear nodes by input, and the nodes fused away.
    struct Lookup {
        var index: ValueIndex
        var outputs: Set<String>
        var quantizers: [String: Int] = [:]
        /// Relu and Clip nodes by input: fused into the integer operator before them as clamp bounds.
        var activations: [String: Int] = [:]
        var removed = Set<Int>()
    }

    /// The value's DequantizeLinear, if it has a constant scale (and zero point).
    func dequantized(_ value: String, _ graph: Graph, _ lookup: Lookup) -> Dequantized? {
        guard let position = lookup.index.producer[value], !lookup.removed.contains(position) else { return nil }
        let node = graph.nodes[position]
        guard node.outputs.first == value, node.opType == "DequantizeLinear",
              Node.isDefaultDomain(node.domain), graph.initializers[node.inputs[1]] != nil else { return nil }
        let zeroPoint = node.inputs.count > 2 && !node.inputs[2].isEmpty ? node.inputs[2] : nil
        if let zeroPoint, graph.initializers[zeroPoint] == nil { return nil }
        if case .int(let b)? = node.attributes["block_size"], b != 0 { return nil }
        let axis: Int = { if case .int(let a)? = node.attributes["axis"] { return a }; return 1 }()
        return Dequantized(integer: node.inputs[0], scale: node.inputs[1], zeroPoint: zeroPoint, axis: axis)
    }

    /// The QuantizeLinear that is the only reader of `value` (per-tensor scale), and its position.
    func quantizer(of value: String, _ graph: Graph, _ lookup: Lookup) -> (Node, Int)? {
        guard !lookup.outputs.contains(value), lookup.index.readers[value] == 1, let position = lookup.quantizers[value],
              !lookup.removed.contains(position) else { return nil }
        let q = graph.nodes[position]
        guard q.inputs.count > 2, !q.inputs[2].isEmpty,
              let scale = graph.initializers[q.inputs[1]], scale.count == 1, graph.initializers[q.inputs[2]] != nil else { return nil }
        return (q, position)
    }

    /// A zero point input: the given one, or a new zero of `type`.
    func zeroPoint(_ name: String?, type: ElementType, _ graph: inout Graph) throws -> String {
        if let name { return name }
        let created = unique("whittle_zero_\(type.name)", in: graph)
        graph.initializers[created] = try Tensor(int64s: [0], shape: [], as: type)
        return created
    }

    /// The integer kernels add the bias to the accumulator as it is: that is the model's arithmetic
    /// only when the bias is dequantized with scale x_scale · w_scale (per channel, as quantizers compute
    /// it in float32) and zero point 0. Any other bias stays in the float path, exactly as written.
    func biasFitsAccumulator(_ b: Dequantized, x: Dequantized, w: Dequantized, _ graph: Graph) -> Bool {
        guard let bs = graph.initializers[b.scale]?.floats(), let xs = graph.initializers[x.scale]?.floats(), xs.count == 1,
              let ws = graph.initializers[w.scale]?.floats(), !bs.isEmpty, !ws.isEmpty else { return false }
        if let zero = b.zeroPoint, graph.initializers[zero]?.int64s()?.allSatisfy({ $0 == 0 }) != true { return false }
        let channels = max(bs.count, ws.count)
        guard bs.count == 1 || bs.count == channels, ws.count == 1 || ws.count == channels else { return false }
        for c in 0..<channels {
            let expected = xs[0] * ws[ws.count == 1 ? 0 : c], actual = bs[bs.count == 1 ? 0 : c]
            guard abs(actual - expected) <= 1e-6 * abs(expected) else { return false }
        }
        return true
    }

    func sameQuantization(_ d: Dequantized, _ q: Node, _ graph: Graph) -> Bool {
        guard let ds = graph.initializers[d.scale], let qs = graph.initializers[q.inputs[1]], ds.count == 1,
              ds.floats() == qs.floats() else { return false }
        let dz = d.zeroPoint.flatMap { graph.initializers[$0]?.int64s() } ?? [0]
        let qz = graph.initializers[q.inputs[2]]?.int64s() ?? [0]
        return dz == qz
    }

    /// The Relu or Clip that is the only reader of `value` and whose output a per-tensor QuantizeLinear
    /// quantizes, with that quantizer and the activation's bounds as quantized values: Q(0) for Relu,
    /// Q(min) and Q(max) for a Clip with constant bounds (absent ones unbounded).
    func activation(after value: String, _ graph: Graph, _ lookup: Lookup, opset: Int)
        -> (position: Int, quantizer: (Node, Int), low: Int64?, high: Int64?)? {
        guard !lookup.outputs.contains(value), lookup.index.readers[value] == 1, let position = lookup.activations[value],
              !lookup.removed.contains(position), let output = graph.nodes[position].outputs.first,
              let (q, qPosition) = quantizer(of: output, graph, lookup),
              let scale = graph.initializers[q.inputs[1]]?.floats().first, scale > 0, scale.isFinite,
              let zero = graph.initializers[q.inputs[2]]?.int64s()?.first, let type = graph.type(of: q.outputs[0])?.elementType
        else { return nil }
        let node = graph.nodes[position]
        // QuantizeLinear's arithmetic: the value divided by the scale in float32, rounded half to even, plus the zero point, saturated.
        func quantized(_ v: Float) -> Int64? {
            guard !v.isNaN else { return nil }
            let (low, high) = type.integerRange
            let q = Double((v / scale).rounded(.toNearestOrEven)) + Double(zero)
            return Int64(Swift.min(Swift.max(q, low), high))
        }
        if node.opType == "Relu" { return (position, (q, qPosition), quantized(0), nil) }
        var bounds: [Float?] = [nil, nil]
        if opset < 11 {
            if case .float(let v)? = node.attributes["min"] { bounds[0] = v }
            if case .float(let v)? = node.attributes["max"] { bounds[1] = v }
        } else {
            for k in 0..<2 where node.inputs.count > k + 1 && !node.inputs[k + 1].isEmpty {
                guard let t = graph.initializers[node.inputs[k + 1]], t.elementType == .float, let v = t.floats().first else { return nil }
                bounds[k] = v
            }
        }
        if bounds.contains(where: { $0?.isNaN == true }) { return nil }
        return (position, (q, qPosition), bounds[0].flatMap(quantized), bounds[1].flatMap(quantized))
    }

    private func fused(_ node: Node, graph: inout Graph, model: Model, lookup: inout Lookup) throws -> Node? {
        guard Node.isDefaultDomain(node.domain), let output = node.outputs.first else { return nil }
        var clamp: (position: Int, low: Int64?, high: Int64?)?
        let q: Node, qPosition: Int
        if let found = quantizer(of: output, graph, lookup) {
            (q, qPosition) = found
        } else if ["Conv", "Gemm", "Add"].contains(node.opType),
                  let found = activation(after: output, graph, lookup, opset: model.opset(for: "")) {
            (q, qPosition) = found.quantizer
            clamp = (found.position, found.low, found.high)
        } else {
            return nil
        }
        func dequantized(_ value: String, _ graph: Graph) -> Dequantized? { self.dequantized(value, graph, lookup) }
        let yType = graph.type(of: q.outputs[0])?.elementType ?? .uint8
        var fused: Node
        switch node.opType {
        case "Conv", "Gemm":
            guard let x = dequantized(node.inputs[0], graph), var w = dequantized(node.inputs[1], graph),
                  graph.initializers[w.integer] != nil, Self.activationTypes.contains(yType),
                  let xType = graph.type(of: x.integer)?.elementType, Self.activationTypes.contains(xType),
                  let wType = try byteWeights(&w, &graph) else { return nil }
            var bias = ""
            if node.inputs.count > 2 && !node.inputs[2].isEmpty {
                guard let b = dequantized(node.inputs[2], graph), graph.initializers[b.integer]?.elementType == .int32,
                      biasFitsAccumulator(b, x: x, w: w, graph) else { return nil }
                bias = b.integer
            }
            if node.opType == "Gemm" {
                if case .float(let beta)? = node.attributes["beta"], beta != 1 { return nil }
                // Per-channel weight scales must run along the output columns.
                let perChannel = (graph.initializers[w.scale]?.count ?? 1) > 1
                guard !perChannel || (isTransposed(node) ? w.axis == 0 : w.axis == 1) else { return nil }
                fused = Node(name: node.name, opType: "QGemm", domain: "com.microsoft",
                             inputs: [x.integer, x.scale, try zeroPoint(x.zeroPoint, type: xType, &graph), w.integer, w.scale,
                                      try zeroPoint(w.zeroPoint, type: wType, &graph), bias, q.inputs[1], q.inputs[2]],
                             outputs: [q.outputs[0]], attributes: node.attributes.filter { $0.key != "beta" })
            } else {
                guard w.axis == 0 || (graph.initializers[w.scale]?.count ?? 1) == 1 else { return nil }
                fused = Node(name: node.name, opType: "QLinearConv",
                             inputs: [x.integer, x.scale, try zeroPoint(x.zeroPoint, type: xType, &graph), w.integer, w.scale,
                                      try zeroPoint(w.zeroPoint, type: wType, &graph), q.inputs[1], q.inputs[2]] + (bias.isEmpty ? [] : [bias]),
                             outputs: [q.outputs[0]], attributes: node.attributes)
            }
        case "Add":
            guard let a = dequantized(node.inputs[0], graph), let b = dequantized(node.inputs[1], graph),
                  let aType = graph.type(of: a.integer)?.elementType, graph.type(of: b.integer)?.elementType == aType, aType == yType,
                  Self.activationTypes.contains(aType) else { return nil }
            fused = Node(name: node.name, opType: "QLinearAdd", domain: "com.microsoft",
                         inputs: [a.integer, a.scale, try zeroPoint(a.zeroPoint, type: aType, &graph), b.integer, b.scale,
                                  try zeroPoint(b.zeroPoint, type: aType, &graph), q.inputs[1], q.inputs[2]],
                         outputs: [q.outputs[0]])
        case "AveragePool", "GlobalAveragePool":
            guard let x = dequantized(node.inputs[0], graph), let xType = graph.type(of: x.integer)?.elementType, xType == yType,
                  Self.activationTypes.contains(xType) else { return nil }
            let scaleInputs = [x.integer, x.scale, try zeroPoint(x.zeroPoint, type: xType, &graph), q.inputs[1], q.inputs[2]]
            fused = Node(name: node.name, opType: "QLinear" + node.opType, domain: "com.microsoft", inputs: scaleInputs,
                         outputs: [q.outputs[0]], attributes: node.attributes)
        case "Softmax":
            // Integer softmax: a 256-entry exponential table over the distance to the row maximum.
            guard let x = dequantized(node.inputs[0], graph), let xType = graph.type(of: x.integer)?.elementType,
                  Self.bytes.contains(xType), Self.bytes.contains(yType), let rank = graph.type(of: x.integer)?.shape?.count, let scale = graph.initializers[x.scale], scale.count == 1
            else { return nil }
            let opset = model.opset(for: "")
            let axisValue: Int = { if case .int(let a)? = node.attributes["axis"] { return a }; return opset < 13 ? 1 : -1 }()
            guard let axis = try? Shape.normalizeAxis(axisValue, rank: max(rank, 1)) else { return nil }
            fused = Node(name: node.name, opType: "QSoftmax", domain: WhittleQuantizedOperators.domain,
                         inputs: [x.integer, x.scale, try zeroPoint(x.zeroPoint, type: xType, &graph), q.inputs[1], q.inputs[2]],
                         outputs: [q.outputs[0]], attributes: ["axis": .int(axis), "coerce": .int(opset < 13 ? 1 : 0)])
        case "MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze":
            // These commute with quantization when the scale and zero point stay the same.
            guard let x = dequantized(node.inputs[0], graph), sameQuantization(x, q, graph),
                  graph.type(of: x.integer)?.elementType == yType, node.outputs.count == 1 else { return nil }
            fused = node
            fused.inputs[0] = x.integer
            fused.outputs = [q.outputs[0]]
        default:
            return nil
        }
        // The QuantizeLinear goes (and the activation before it); its output is now produced by the fused node.
        lookup.removed.insert(qPosition)
        if let clamp {
            lookup.removed.insert(clamp.position)
            if let low = clamp.low { fused.attributes[WhittleAttribute.clampLow] = .int(Int(low)) }
            if let high = clamp.high { fused.attributes[WhittleAttribute.clampHigh] = .int(Int(high)) }
        }
        return fused
    }

    /// The types the integer operators this pass makes take for weights (one byte a value), and for
    /// activations: one byte, or two in the 16×8 scheme (int8 weights; Softmax stays 8-bit only).
    static let bytes: Set<ElementType> = [.int8, .uint8]
    static let activationTypes: Set<ElementType> = [.int8, .uint8, .int16, .uint16]

    /// The weight's element type once it is one byte a value: int8/uint8 weights as they are; 4- and
    /// 2-bit weights (constants, with a constant or absent zero point) widened into new int8/uint8
    /// initializers, which holds every value exactly. nil for any other type, which stays in float.
    func byteWeights(_ w: inout Dequantized, _ graph: inout Graph) throws -> ElementType? {
        guard let tensor = graph.initializers[w.integer] else { return nil }
        let type = tensor.elementType
        if Self.bytes.contains(type) { return type }
        let wide: ElementType
        switch type {
        case .int4, .int2: wide = .int8
        case .uint4, .uint2: wide = .uint8
        default: return nil
        }
        func widened(_ name: String) throws -> String {
            let created = unique(name + "_\(wide.name)", in: graph)
            guard let value = graph.initializers[name] else { throw WhittleError(.invalidGraph, "\"\(name)\" is not a constant") }
            graph.initializers[created] = try NDArray(value).converted(to: wide).tensor()
            return created
        }
        w.integer = try widened(w.integer)
        if let zero = w.zeroPoint { w.zeroPoint = try widened(zero) }
        return wide
    }

    private func isTransposed(_ node: Node) -> Bool {
        if case .int(let t)? = node.attributes["transB"] { return t != 0 }
        return false
    }
}
