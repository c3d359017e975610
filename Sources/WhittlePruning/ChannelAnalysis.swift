import WhittleIR

extension ChannelPruner {
    /// Follows every prunable layer's output channels (axis 1) through the graph, in node order,
    /// recording the tensors to slice and the channel sets that must be removed together.
    struct Analysis {
        let graph: Graph
        var spaces: [Space] = []
        var parent: [Int] = []
        /// Spaces that must stay whole, with the reason.
        var pinned: [Int: String] = [:]
        var edits: [Edit] = []
        /// Depthwise convolutions whose `group` follows their channels.
        var groupEdits: [(Int, [Segment])] = []
        /// The channel layout of each value that carries prunable channels on axis 1.
        var layouts: [String: [Segment]] = [:]
        /// How many nodes read each initializer (a shared weight cannot be sliced for one reader).
        var readers: [String: Int] = [:]

        init(graph: Graph) {
            self.graph = graph
            for node in graph.nodes { for input in Set(node.inputs) where graph.initializers[input] != nil { readers[input, default: 0] += 1 } }
        }

        mutating func find(_ s: Int) -> Int {
            var s = s
            while parent[s] != s { parent[s] = parent[parent[s]]; s = parent[s] }
            return s
        }

        mutating func union(_ a: Int, _ b: Int) {
            let (ra, rb) = (find(a), find(b))
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }

        mutating func roots() -> [Int] {
            var seen = Set<Int>(), result: [Int] = []
            for s in spaces.indices where seen.insert(find(s)).inserted { result.append(find(s)) }
            return result
        }

        mutating func pin(_ s: Int, _ reason: String) {
            if pinned[s] == nil { pinned[s] = reason }
        }

        mutating func pin(_ layout: [Segment]?, _ reason: String) {
            for segment in layout ?? [] { if let s = segment.space { pin(s, reason) } }
        }

        func shape(_ value: String) -> [Int]? { graph.type(of: value)?.shape }

        func int(_ node: Node, _ name: String, _ fallback: Int) -> Int {
            if case .int(let v)? = node.attributes[name] { return v }
            return fallback
        }

        /// A constant the edit may slice (an initializer read by this node only), or nil.
        func sliceable(_ value: String) -> Tensor? {
            guard let tensor = graph.initializers[value], readers[value] == 1 else { return nil }
            return tensor
        }

        /// Registers the output channels of `node` (weights `weight`, channel dimension `dimension`).
        mutating func newSpace(_ node: Node, output: String, weight: String, dimension: Int, bias: String?) {
            guard let tensor = sliceable(weight), tensor.elementType.isFloatingPoint else { return }
            let s = spaces.count
            let channels = tensor.shape[dimension]
            spaces.append(Space(node: node.name, channels: channels, weight: weight, dimension: dimension))
            parent.append(s)
            let layout = [Segment(space: s, count: channels, block: 1)]
            edits.append(Edit(initializer: weight, dimension: dimension, layout: layout))
            if let bias, !bias.isEmpty {
                if let b = sliceable(bias), let last = b.shape.last, last == channels {
                    edits.append(Edit(initializer: bias, dimension: b.rank - 1, layout: layout))
                } else if let b = graph.initializers[bias], b.count != 1 {
                    pin(s, "its bias cannot follow the channels")
                } else if graph.initializers[bias] == nil {
                    pin(s, "its bias is not a constant")
                }
            }
            layouts[output] = layout
        }

        /// Slices a reader's weight along its input-channel dimension, or pins the channels.
        mutating func consume(_ layout: [Segment], weight: String, dimension: Int, blocks: Bool, reason: String) {
            if sliceable(weight) != nil, blocks || layout.allSatisfy({ $0.block == 1 }) {
                edits.append(Edit(initializer: weight, dimension: dimension, layout: layout))
            } else {
                pin(layout, reason)
            }
        }

        mutating func walk() throws {
            let passThrough: Set<String> = ["Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Elu", "Selu",
                                            "Celu", "Softplus", "Softsign", "Gelu", "Mish", "Identity", "Dropout", "Abs", "Neg", "Erf",
                                            "Cast", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "Floor",
                                            "Ceil", "Round", "Sqrt", "Exp", "Log", "Reciprocal", "ThresholdedRelu", "Shrink", "Sign"]
            let elementwise: Set<String> = ["Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "PRelu", "Pow"]
            for (index, node) in graph.nodes.enumerated() {
                let x = node.inputs.first ?? ""
                let input = layouts[x]
                let output = node.outputs.first ?? ""
                switch node.domain.isEmpty ? node.opType : node.qualifiedOpType {
                case "Conv":
                    let group = int(node, "group", 1)
                    let weight = node.inputs.count > 1 ? node.inputs[1] : ""
                    let bias = node.inputs.count > 2 ? node.inputs[2] : ""
                    let w = shape(weight) ?? []
                    if group == 1 {
                        if let input { consume(input, weight: weight, dimension: 1, blocks: false, reason: "read by a convolution that cannot follow them") }
                        newSpace(node, output: output, weight: weight, dimension: 0, bias: bias)
                    } else if let input, w.count >= 2, w[1] == 1, w[0] == group, input.allSatisfy({ $0.block == 1 }),
                              sliceable(weight) != nil, bias.isEmpty || sliceable(bias) != nil {
                        // Depthwise: one filter per input channel, so its channels are its input's.
                        edits.append(Edit(initializer: weight, dimension: 0, layout: input))
                        if !bias.isEmpty { edits.append(Edit(initializer: bias, dimension: 0, layout: input)) }
                        groupEdits.append((index, input))
                        layouts[output] = input
                    } else {
                        pin(input, "read by a grouped convolution")
                    }
                case "Gemm":
                    let weight = node.inputs.count > 1 ? node.inputs[1] : ""
                    let transB = int(node, "transB", 0) != 0
                    guard int(node, "transA", 0) == 0 else { pin(input, "read by a transposed Gemm"); continue }
                    if let input { consume(input, weight: weight, dimension: transB ? 1 : 0, blocks: true, reason: "read by a Gemm that cannot follow them") }
                    newSpace(node, output: output, weight: weight, dimension: transB ? 0 : 1, bias: node.inputs.count > 2 ? node.inputs[2] : nil)
                case "MatMul":
                    let weight = node.inputs.count > 1 ? node.inputs[1] : ""
                    guard shape(x)?.count == 2, shape(weight)?.count == 2 else { pin(input, "read by a batched MatMul"); continue }
                    if let input { consume(input, weight: weight, dimension: 0, blocks: true, reason: "read by a MatMul that cannot follow them") }
                    newSpace(node, output: output, weight: weight, dimension: 1, bias: nil)
                case "BatchNormalization", "InstanceNormalization":
                    guard let input else { continue }
                    let parameters = node.opType == "BatchNormalization" ? Array(node.inputs.dropFirst().prefix(4)) : Array(node.inputs.dropFirst().prefix(2))
                    if parameters.allSatisfy({ sliceable($0) != nil }), node.outputs.filter({ !$0.isEmpty }).count == 1, input.allSatisfy({ $0.block == 1 }) {
                        for p in parameters { edits.append(Edit(initializer: p, dimension: 0, layout: input)) }
                        layouts[output] = input
                    } else {
                        pin(input, "read by a normalization whose parameters cannot follow them")
                    }
                case let op where passThrough.contains(op):
                    guard let input else { continue }
                    if node.outputs.filter({ !$0.isEmpty }).count > 1 { pin(input, "read by \(op) with a second output"); continue }
                    layouts[output] = input
                case let op where elementwise.contains(op):
                    elementwiseNode(node, output: output)
                case "Concat":
                    concat(node, output: output)
                case "Flatten":
                    guard let input else { continue }
                    let s = shape(x) ?? []
                    if int(node, "axis", 1) == 1, s.count >= 2 {
                        let block = s[2...].reduce(1, *)
                        layouts[output] = input.map { Segment(space: $0.space, count: $0.count, block: $0.block * block) }
                    } else {
                        pin(input, "read by a Flatten that mixes them")
                    }
                default:
                    for value in node.inputs { pin(layouts[value], "read by \(node.opType) (\(node.name))") }
                }
            }
            for output in graph.outputs { pin(layouts[output.name], "a graph output") }
        }

        /// Element-wise operators: activations meeting here must lose the same channels; constants
        /// with a channel dimension are sliced with them.
        mutating func elementwiseNode(_ node: Node, output: String) {
            let rank = shape(output)?.count ?? 0
            let carried = node.inputs.compactMap { layouts[$0] }
            guard let first = carried.first else { return }
            var ok = true
            for value in node.inputs where !value.isEmpty && layouts[value] == nil {
                let s = shape(value) ?? []
                let axis = 1 - (rank - s.count)
                guard axis >= 0, axis < s.count, s[axis] != 1 else { continue }
                if sliceable(value) != nil, s[axis] == first.reduce(0, { $0 + $1.count * $1.block }) {
                    edits.append(Edit(initializer: value, dimension: axis, layout: first))
                } else {
                    ok = false
                }
            }
            for other in carried.dropFirst() {
                guard other.count == first.count, zip(other, first).allSatisfy({ $0.count == $1.count && $0.block == $1.block && ($0.space == nil) == ($1.space == nil) }) else {
                    ok = false
                    break
                }
                for (a, b) in zip(other, first) { if let sa = a.space, let sb = b.space { union(sa, sb) } }
            }
            if ok {
                layouts[output] = first
            } else {
                for layout in carried { pin(layout, "meets other channels in \(node.opType) (\(node.name))") }
            }
        }

        mutating func concat(_ node: Node, output: String) {
            let rank = shape(output)?.count ?? 0
            let axis = int(node, "axis", 0) < 0 ? int(node, "axis", 0) + rank : int(node, "axis", 0)
            let carried = node.inputs.compactMap { layouts[$0] }
            guard !carried.isEmpty else { return }
            guard axis == 1 else {
                for layout in carried { pin(layout, "concatenated along another axis (\(node.name))") }
                return
            }
            var layout: [Segment] = []
            for value in node.inputs where !value.isEmpty {
                if let own = layouts[value] {
                    layout += own
                } else if let s = shape(value), s.count > 1 {
                    layout.append(Segment(space: nil, count: s[1], block: 1))
                }
            }
            layouts[output] = layout
        }
    }
}
