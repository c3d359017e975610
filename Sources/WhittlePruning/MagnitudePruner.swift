import WhittleIR

/// How `MagnitudePruner` chooses the weights to remove.
public struct PruningOptions: Sendable {
    /// How one target sparsity is shared between layers.
    public enum Scope: String, Sendable, CaseIterable {
        /// Every prunable layer loses the same share of its weights.
        case layer
        /// One magnitude threshold over all prunable weights (layers with overrides excluded).
        case global
    }

    /// The share of weights set to zero, in [0, 1).
    public var sparsity: Double
    public var scope: Scope = .layer
    /// Per-layer sparsity by node name (or weight name); these layers are pruned on their own.
    public var layers: [String: Double] = [:]
    /// Layers left dense; nil keeps the default: the first and the last prunable layer (usually
    /// the first convolution and the classifier, the most sensitive ones).
    public var keep: Set<String>?
    /// N:M pruning instead of a share: in every group of `m` consecutive weights along the reduction
    /// (the taps an output sums), at most `n` stay nonzero (the largest); `sparsity` is then (m − n)/m.
    public var pattern: (n: Int, m: Int)?

    public init(sparsity: Double, scope: Scope = .layer, layers: [String: Double] = [:], keep: Set<String>? = nil,
                pattern: (n: Int, m: Int)? = nil) {
        self.sparsity = sparsity
        self.scope = scope
        self.layers = layers
        self.keep = keep
        self.pattern = pattern
    }
}

/// One layer's weights before and after pruning.
public struct PrunedLayer: Sendable, Codable {
    public var node: String
    public var op: String
    public var weight: String
    public var elements: Int
    public var zerosBefore: Int
    public var zerosAfter: Int
    /// The sparsity asked for; nil when the layer was kept dense.
    public var target: Double?

    public var sparsityAfter: Double { Double(zerosAfter) / Double(max(elements, 1)) }
}

/// Unstructured magnitude pruning of the weights of Conv, ConvTranspose, Gemm and MatMul (float,
/// QDQ-quantized through a DequantizeLinear, or QLinearConv/QGemm): the smallest weights by
/// magnitude become zero. Quantized weights are ranked by their dequantized magnitude and set to
/// their zero point, so scales and zero points are kept and the model stays quantized.
public enum MagnitudePruner {
    /// A weight tensor a layer reads, and how to read its magnitudes.
    struct Candidate {
        var node: Node
        var weight: String
        /// Per-element scale and zero point for quantized weights (nil for float).
        var scale: [Double]?
        var zero: [Int64]?
        var axis: Int
    }

    public static func prune(_ model: Model, options: PruningOptions) throws -> (model: Model, layers: [PrunedLayer]) {
        guard options.sparsity >= 0, options.sparsity < 1 else {
            throw WhittleError(.usage, "the sparsity must be at least 0 and below 1, not \(options.sparsity)", setting: .sparsity)
        }
        for (name, s) in options.layers where !(s >= 0 && s < 1) {
            throw WhittleError(.usage, "the sparsity of layer \"\(name)\" must be at least 0 and below 1, not \(s)")
        }
        var graph = model.graph
        let candidates = try findCandidates(graph)
        guard !candidates.isEmpty else {
            throw WhittleError(.usage, "the model has no prunable weights (constant weights of Conv, ConvTranspose, Gemm, MatMul, "
                + "or of their quantized forms QLinearConv, QLinearMatMul, QGemm, ConvInteger, MatMulInteger)")
        }
        let names = Set(candidates.flatMap { [$0.node.name, $0.weight] })
        for name in Array(options.layers.keys) + Array(options.keep ?? []) where !names.contains(name) {
            let known = candidates.map(\.node.name).joined(separator: ", ")
            throw WhittleError(.usage, "\"\(name)\" is not a prunable layer; the prunable layers are: \(known.isEmpty ? "none" : known)")
        }
        let keep = options.keep ?? Set([candidates.first, candidates.last].compactMap { $0?.node.name })
        func override(_ c: Candidate) -> Double? { options.layers[c.node.name] ?? options.layers[c.weight] }
        func kept(_ c: Candidate) -> Bool { override(c) == nil && (keep.contains(c.node.name) || keep.contains(c.weight)) }

        var magnitudes: [String: [Double]] = [:]
        for c in candidates { magnitudes[c.weight] = try magnitude(c, graph) }
        var prunedIndices: [String: [Int]] = [:]
        if let pattern = options.pattern {
            guard pattern.n >= 1, pattern.n < pattern.m, pattern.m <= 256 else {
                throw WhittleError(.usage, "an N:M pattern needs 1 <= N < M <= 256, not \(pattern.n):\(pattern.m)", setting: .sparsity)
            }
            guard options.scope == .layer, options.layers.isEmpty else {
                throw WhittleError(.usage, "an N:M pattern prunes every layer alike: no global scope or per-layer sparsities", setting: .sparsity)
            }
            for c in candidates where !kept(c) {
                guard let m = magnitudes[c.weight], let shape = graph.initializers[c.weight]?.shape else { continue }
                prunedIndices[c.weight] = reductionGroups(c, shape: shape, size: pattern.m).flatMap { group in
                    smallest(group.map { (m[$0], $0) }, count: group.count - Swift.min(pattern.n, group.count))
                }
            }
        }
        // Per-layer choices: overrides always, and every layer when the scope is per layer.
        for c in candidates where !kept(c) && options.pattern == nil {
            guard let target = override(c) ?? (options.scope == .layer ? options.sparsity : nil), let m = magnitudes[c.weight] else { continue }
            prunedIndices[c.weight] = smallest(m.indices.map { (m[$0], $0) }, count: Int((target * Double(m.count)).rounded()))
        }
        if options.scope == .global && options.pattern == nil {
            let pool = candidates.filter { !kept($0) && override($0) == nil }
            var all: [(Double, Int, Int)] = []
            for (k, c) in pool.enumerated() { for (i, v) in (magnitudes[c.weight] ?? []).enumerated() { all.append((v, k, i)) } }
            let count = Int((options.sparsity * Double(all.count)).rounded())
            let order = all.indices.sorted { (all[$0].0, all[$0].1, all[$0].2) < (all[$1].0, all[$1].1, all[$1].2) }
            for j in order.prefix(count) { prunedIndices[pool[all[j].1].weight, default: []].append(all[j].2) }
        }
        var report: [PrunedLayer] = []
        for c in candidates {
            guard let tensor = graph.initializers[c.weight] else { continue }
            let before = magnitudes[c.weight]?.filter { $0 == 0 }.count ?? 0
            if let indices = prunedIndices[c.weight] {
                graph.initializers[c.weight] = try zeroed(tensor, indices: indices, zero: c.zero, axis: c.axis)
            }
            let after = try magnitude(c, graph).filter { $0 == 0 }.count
            let target: Double? = kept(c) ? nil : override(c) ?? options.pattern.map { Double($0.m - $0.n) / Double($0.m) } ?? options.sparsity
            report.append(PrunedLayer(node: c.node.name, op: c.node.opType, weight: c.weight, elements: tensor.count,
                                      zerosBefore: before, zerosAfter: after, target: target))
        }
        var result = model
        result.graph = graph
        return (result, report)
    }

    /// The weights' indices in groups of `size` consecutive taps of one output's reduction (a last
    /// group may be shorter): along the trailing axes for convolutions and matrices read transposed
    /// (rows of output channels), along axis 0 for MatMul-like weights [K, N] and ConvTranspose.
    static func reductionGroups(_ c: Candidate, shape: [Int], size: Int) -> [[Int]] {
        let count = shape.reduce(1, *)
        let op = c.node.opType
        let rows = op.contains("Conv") && op != "ConvTranspose" || c.node.attributes["transB"] == .int(1)
        let (outputs, taps, outputStride, tapStride) = rows ? (shape[0], count / max(shape[0], 1), count / max(shape[0], 1), 1)
            : (count / max(shape[0], 1), shape[0], 1, count / max(shape[0], 1))
        var groups: [[Int]] = []
        for o in 0..<outputs {
            for start in stride(from: 0, to: taps, by: size) {
                groups.append((start..<Swift.min(start + size, taps)).map { o * outputStride + $0 * tapStride })
            }
        }
        return groups
    }

    /// Indices of the `count` smallest magnitudes (ties by position, so the result is deterministic).
    static func smallest(_ items: [(Double, Int)], count: Int) -> [Int] {
        Array(items.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.prefix(max(0, count)).map(\.1))
    }

    /// Prunable layers in graph order, each weight once (the first layer that reads it).
    static func findCandidates(_ graph: Graph) throws -> [Candidate] {
        var producer: [String: Node] = [:]
        for node in graph.nodes { for output in node.outputs where !output.isEmpty { producer[output] = node } }
        var seen = Set<String>(), result: [Candidate] = []
        for node in graph.nodes {
            let input: Int
            // Integer operators: where their weight's scale and zero point are, and the axis they run along.
            var integer: (scale: Int?, zero: Int)?
            switch node.qualifiedOpType {
            case "Conv", "ConvTranspose", "Gemm", "MatMul": input = 1
            case "QLinearConv", "com.microsoft.QGemm", "QLinearMatMul": (input, integer) = (3, (4, 5))
            case "ConvInteger", "MatMulInteger": (input, integer) = (1, (nil, 3))
            default: continue
            }
            guard input < node.inputs.count else { continue }
            let value = node.inputs[input]
            var candidate: Candidate?
            if let tensor = graph.initializers[value], tensor.elementType.isFloatingPoint, tensor.rank >= 2 {
                candidate = Candidate(node: node, weight: value, scale: nil, zero: nil, axis: 0)
            } else if let integer, let tensor = graph.initializers[value], tensor.rank >= 2 {
                // Convolution scales and zero points are per output channel (axis 0); matrix products' per
                // column of B (the last axis), or per row when QGemm reads B transposed.
                let axis = node.opType.contains("Conv") || node.attributes["transB"] == .int(1) ? 0 : tensor.rank - 1
                let zeroInput = node.inputs.count > integer.zero ? node.inputs[integer.zero] : ""
                // Without a scale (ConvInteger, MatMulInteger) magnitudes compare in integer steps.
                let (scale, zero) = try parameters(graph, scale: integer.scale.map { node.inputs[$0] }, zero: zeroInput)
                candidate = Candidate(node: node, weight: value, scale: scale, zero: zero, axis: axis)
            } else if let dq = producer[value], dq.opType == "DequantizeLinear", let tensor = graph.initializers[dq.inputs[0]], tensor.rank >= 2 {
                let axis = try Shape.normalizeAxis(dq.attributes["axis"].flatMap { if case .int(let a) = $0 { a } else { nil } } ?? 1,
                                                   rank: tensor.rank)
                let (scale, zero) = try parameters(graph, scale: dq.inputs[1], zero: dq.inputs.count > 2 ? dq.inputs[2] : "")
                candidate = Candidate(node: node, weight: dq.inputs[0], scale: scale, zero: zero, axis: axis)
            }
            if let candidate, seen.insert(candidate.weight).inserted { result.append(candidate) }
        }
        return result
    }

    static func parameters(_ graph: Graph, scale: String?, zero: String) throws -> ([Double], [Int64]) {
        guard let scale else { return ([1], zero.isEmpty ? [0] : (graph.initializers[zero]?.int64s() ?? [0])) }
        guard let s = graph.initializers[scale] else { throw WhittleError(.unsupported, "the weight scale \"\(scale)\" is not a constant") }
        let z = zero.isEmpty ? [0] : (graph.initializers[zero]?.int64s() ?? [0])
        return (s.doubles(), z)
    }

    /// The magnitude of every weight: |w|, or |q − zero| · scale along the quantization axis.
    static func magnitude(_ c: Candidate, _ graph: Graph) throws -> [Double] {
        guard let tensor = graph.initializers[c.weight] else { return [] }
        guard let scale = c.scale, let zero = c.zero else { return tensor.doubles().map { abs($0) } }
        guard let q = tensor.int64s() else { throw WhittleError(.unsupported, "weight \"\(c.weight)\" is not an integer tensor") }
        let inner = tensor.shape[(c.axis + 1)...].reduce(1, *), channels = tensor.shape[c.axis]
        return q.indices.map { i in
            let channel = (i / inner) % channels
            let s = scale.count == 1 ? scale[0] : scale[channel], z = zero.count == 1 ? zero[0] : zero[channel]
            return Double(abs(q[i] - z)) * abs(s)
        }
    }

    /// `tensor` with the elements at `indices` set to zero (or to their channel's zero point).
    static func zeroed(_ tensor: Tensor, indices: [Int], zero: [Int64]?, axis: Int) throws -> Tensor {
        if tensor.elementType.isFloatingPoint {
            var values = tensor.doubles()
            for i in indices { values[i] = 0 }
            return try Tensor(doubles: values, shape: tensor.shape, as: tensor.elementType)
        }
        guard var values = tensor.int64s() else { return tensor }
        let zero = zero ?? [0]
        let inner = tensor.shape[(axis + 1)...].reduce(1, *), channels = tensor.shape[axis]
        for i in indices { values[i] = zero.count == 1 ? zero[0] : zero[(i / max(inner, 1)) % max(channels, 1)] }
        return try Tensor(int64s: values, shape: tensor.shape, as: tensor.elementType)
    }
}
