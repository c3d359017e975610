import WhittleIR
import WhittleOps

/// Structured pruning: whole output channels of Conv, Gemm and MatMul layers are removed, and the
/// removal is carried through every reader of those channels, so the result is a smaller dense
/// model. Channels are tracked along axis 1 (NCHW maps, [batch, features] matrices) through
/// BatchNormalization, element-wise operators, pools, depthwise convolutions, Concat and
/// Flatten into the next layer's input; channels that meet in an element-wise operator (the two
/// sides of a residual Add) are ranked and removed together. A layer whose channels reach a
/// graph output, a shape operator or anything else that cannot follow is left whole, with the
/// reason in the report.
public enum ChannelPruner {
    /// How channels are ranked: the L1 or L2 norm of each channel's weights (summed over coupled layers).
    public enum Criterion: String, Sendable, CaseIterable {
        case l1, l2
    }

    /// One group of coupled channel sets and what became of it.
    public struct Group: Sendable, Codable {
        /// The layers whose output channels form the group (coupled through element-wise operators).
        public var layers: [String]
        public var channelsBefore: Int
        public var channelsAfter: Int
        /// Why the group was left whole, if it was.
        public var keptBecause: String?
        /// Removed channel indices (of the original numbering).
        public var removed: [Int]
    }

    /// A run of the channel axis: `count` channels of one space (nil: channels that cannot be
    /// removed), each covering `block` consecutive positions (Flatten turns a channel into a block).
    struct Segment: Equatable {
        var space: Int?
        var count: Int
        var block: Int
    }

    /// A tensor dimension to slice like a channel layout (weights, biases, normalization parameters).
    struct Edit {
        var initializer: String
        var dimension: Int
        var layout: [Segment]
    }

    /// The output channels of one layer.
    struct Space {
        var node: String
        var channels: Int
        var weight: String
        var dimension: Int
    }

    public static func prune(_ model: Model, options: PruningOptions, criterion: Criterion = .l2) throws -> (model: Model, groups: [Group]) {
        guard options.sparsity >= 0, options.sparsity < 1 else {
            throw WhittleError(.usage, "the sparsity must be at least 0 and below 1, not \(options.sparsity)", setting: .sparsity)
        }
        let types = try ShapeInference.run(model)
        if let problem = types.unsupported.first { throw WhittleError(.unsupported, "cannot prune channels: \(problem.reason)") }
        var analysis = Analysis(graph: types.graph)
        try analysis.walk()
        let known = Set(analysis.spaces.map(\.node))
        for name in Array(options.layers.keys) + Array(options.keep ?? []) where !known.contains(name) {
            throw WhittleError(.usage, "\"\(name)\" is not a layer whose channels can be pruned; those are: \(analysis.spaces.map(\.node).joined(separator: ", "))")
        }
        let keep = options.keep ?? Set([analysis.spaces.first?.node, analysis.spaces.last?.node].compactMap { $0 })
        for (s, space) in analysis.spaces.enumerated() where keep.contains(space.node) && options.layers[space.node] == nil {
            analysis.pin(s, "kept as asked")
        }

        // Rank each group's channels by the summed norm of its layers' weights; remove the weakest.
        var graph = model.graph
        var removed: [Int: Set<Int>] = [:], groups: [Group] = []
        for root in analysis.roots() {
            let members = analysis.spaces.indices.filter { analysis.find($0) == root }
            let channels = analysis.spaces[members[0]].channels
            let names = members.map { analysis.spaces[$0].node }
            if let reason = members.lazy.compactMap({ analysis.pinned[$0] }).first {
                if let asked = names.first(where: { options.layers[$0] != nil }) {
                    throw WhittleError(.usage, "\"\(asked)\" cannot lose channels: \(reason)")
                }
                groups.append(Group(layers: names, channelsBefore: channels, channelsAfter: channels, keptBecause: reason, removed: []))
                continue
            }
            let share = members.lazy.compactMap { options.layers[analysis.spaces[$0].node] }.first ?? options.sparsity
            var importance = [Double](repeating: 0, count: channels)
            for m in members {
                let space = analysis.spaces[m]
                guard let tensor = graph.initializers[space.weight] else { continue }
                for (c, norm) in norms(tensor, dimension: space.dimension, criterion: criterion).enumerated() where c < channels { importance[c] += norm }
            }
            let count = min(Int((share * Double(channels)).rounded()), channels - 1)
            let weakest = Set(importance.indices.sorted { (importance[$0], $0) < (importance[$1], $1) }.prefix(max(count, 0)))
            for m in members { removed[m] = weakest }
            groups.append(Group(layers: names, channelsBefore: channels, channelsAfter: channels - weakest.count, keptBecause: nil,
                                removed: weakest.sorted()))
        }
        for edit in analysis.edits {
            guard let tensor = graph.initializers[edit.initializer] else { continue }
            let kept = keptIndices(edit.layout, removed: removed)
            if kept.count != tensor.shape[edit.dimension] || kept != Array(0..<kept.count) {
                graph.initializers[edit.initializer] = try slice(tensor, dimension: edit.dimension, keep: kept)
            }
        }
        for (index, layout) in analysis.groupEdits {
            let count = layout.reduce(0) { total, segment in total + (segment.space.map { segment.count - (removed[$0]?.count ?? 0) } ?? segment.count) }
            graph.nodes[index].attributes["group"] = .int(count)
        }
        // Intermediate shapes changed: keep only the declared types of the graph's inputs and outputs.
        let boundary = Set(graph.inputs.map(\.name) + graph.outputs.map(\.name))
        graph.valueTypes = graph.valueTypes.filter { boundary.contains($0.key) }
        var result = model
        result.graph = graph
        return (result, groups)
    }

    /// Positions of a dimension laid out as `layout` that survive the removal.
    static func keptIndices(_ layout: [Segment], removed: [Int: Set<Int>]) -> [Int] {
        var kept: [Int] = [], offset = 0
        for segment in layout {
            let gone = segment.space.flatMap { removed[$0] } ?? []
            for c in 0..<segment.count where !gone.contains(c) { kept.append(contentsOf: (offset + c * segment.block)..<(offset + (c + 1) * segment.block)) }
            offset += segment.count * segment.block
        }
        return kept
    }

    /// The norm of each slice of `tensor` along `dimension`.
    public static func norms(_ tensor: Tensor, dimension: Int, criterion: Criterion) -> [Double] {
        let values = tensor.doubles()
        let inner = tensor.shape[(dimension + 1)...].reduce(1, *), size = tensor.shape[dimension]
        var sums = [Double](repeating: 0, count: size)
        for (i, v) in values.enumerated() {
            let c = (i / max(inner, 1)) % max(size, 1)
            sums[c] += criterion == .l1 ? abs(v) : v * v
        }
        return criterion == .l1 ? sums : sums.map { $0.squareRoot() }
    }

    /// `tensor` with only the given indices of `dimension`, in order.
    static func slice(_ tensor: Tensor, dimension: Int, keep: [Int]) throws -> Tensor {
        let outer = tensor.shape[..<dimension].reduce(1, *), inner = tensor.shape[(dimension + 1)...].reduce(1, *)
        let size = tensor.shape[dimension], width = tensor.elementType.byteWidth ?? 1
        var bytes: [UInt8] = []
        bytes.reserveCapacity(outer * keep.count * inner * width)
        for o in 0..<outer {
            for k in keep {
                let start = ((o * size + k) * inner) * width
                bytes.append(contentsOf: tensor.bytes[start..<(start + inner * width)])
            }
        }
        var shape = tensor.shape
        shape[dimension] = keep.count
        return try Tensor(elementType: tensor.elementType, shape: shape, bytes: bytes)
    }
}
