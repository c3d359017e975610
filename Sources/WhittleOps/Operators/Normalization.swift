import WhittleIR

/// BatchNormalization (inference form), LayerNormalization, InstanceNormalization, RMSNormalization, LpNormalization.
public enum NormalizationOperators {
    static var all: [OperatorDefinition] {
        [batchNormalization, layerNormalization, instanceNormalization, rmsNormalization, lpNormalization, groupNormalization, lrn,
         meanVarianceNormalization]
    }

    /// (X − mean) / (standard deviation + 1e-9) over `axes` (default 0, 2, 3), as ONNX's function defines it.
    static let meanVarianceNormalization = OperatorDefinition("MeanVarianceNormalization", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.type(0), xs = try ctx.shape(0)
        guard x.elementType.isFloatingPoint else { throw WhittleError(.shapeMismatch, "MeanVarianceNormalization takes floating-point tensors") }
        for axis in try ctx.ints("axes") ?? [0, 2, 3] { _ = try Shape.normalizeAxis(axis, rank: xs.count) }
        return [x]
    })

    /// Statistics over groups of channels; scale and bias per channel (opset 21) or per group (opset 18).
    static let groupNormalization = OperatorDefinition("GroupNormalization", infer: { ctx in
        try ctx.expectInputs(3, 3)
        let x = try ctx.type(0), xs = try ctx.shape(0)
        guard x.elementType.isFloatingPoint, xs.count >= 2 else { throw WhittleError(.shapeMismatch, "GroupNormalization takes a floating-point N×C×... tensor") }
        guard let groups = try ctx.int("num_groups"), groups > 0, xs[1] % groups == 0 else {
            throw WhittleError(.invalidAttribute, "num_groups must divide the \(xs[1]) channels")
        }
        let per = ctx.opset >= 21 ? xs[1] : groups
        guard try ctx.shape(1) == [per], try ctx.shape(2) == [per] else {
            throw WhittleError(.shapeMismatch, "scale and bias must have \(per) values")
        }
        return [x]
    })

    /// Local response normalization across channels.
    static let lrn = OperatorDefinition("LRN", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.type(0), xs = try ctx.shape(0)
        guard x.elementType.isFloatingPoint, xs.count >= 2 else { throw WhittleError(.shapeMismatch, "LRN takes a floating-point N×C×... tensor") }
        guard let size = try ctx.int("size"), size > 0 else { throw WhittleError(.invalidAttribute, "LRN needs a positive size") }
        return [x]
    })

    /// Y = X / sqrt(mean(X²) + epsilon) * scale, over the axes from `axis` on.
    static let rmsNormalization = OperatorDefinition("RMSNormalization", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let x = try ctx.type(0), xs = try ctx.shape(0)
        guard x.elementType.isFloatingPoint else { throw WhittleError(.shapeMismatch, "RMSNormalization takes floating-point tensors") }
        let axis = try Shape.normalizeAxis(ctx.int("axis", default: -1), rank: xs.count)
        let normalized = Array(xs[axis...]), s = try ctx.shape(1)
        guard Shape.broadcast(s, normalized) == normalized else {
            throw WhittleError(.shapeMismatch, "scale \(Shape.describe(s)) does not broadcast to \(Shape.describe(normalized))")
        }
        return [x]
    })

    /// X divided by its L1 or L2 norm along the axis.
    static let lpNormalization = OperatorDefinition("LpNormalization", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.type(0), xs = try ctx.shape(0)
        guard x.elementType.isFloatingPoint else { throw WhittleError(.shapeMismatch, "LpNormalization takes floating-point tensors") }
        _ = try Shape.normalizeAxis(ctx.int("axis", default: -1), rank: xs.count)
        let p = try ctx.int("p", default: 2)
        guard p == 1 || p == 2 else { throw WhittleError(.invalidAttribute, "p must be 1 or 2, found \(p)") }
        return [x]
    })

    /// Whether a BatchNormalization normalizes with the batch's own statistics (opset 14's training_mode).
    public static func isTrainingMode(_ node: Node) -> Bool {
        if case .int(let mode) = node.attributes["training_mode"] { return mode != 0 }
        return false
    }

    static let batchNormalization = OperatorDefinition("BatchNormalization", infer: { ctx in
        try ctx.expectInputs(5, 5)
        let x = try ctx.type(0), xs = try ctx.shape(0)
        guard xs.count >= 2 else { throw WhittleError(.shapeMismatch, "X \(Shape.describe(xs)) must have rank 2 or more") }
        for i in 1...4 {
            let s = try ctx.shape(i)
            guard s == [xs[1]] else {
                throw WhittleError(.shapeMismatch, "input \(i) \(Shape.describe(s)) must have \(xs[1]) elements, one per channel")
            }
        }
        // Extra outputs (running statistics) exist only in training mode; they have one value per channel.
        let stats = TensorType(try ctx.type(1).elementType, [xs[1]])
        return [x] + Array(repeating: stats, count: Swift.max(0, ctx.node.outputs.count - 1))
    })

    static let layerNormalization = OperatorDefinition("LayerNormalization", infer: { ctx in
        try ctx.expectInputs(2, 3)
        let x = try ctx.type(0), xs = try ctx.shape(0)
        let axis = try Shape.normalizeAxis(ctx.int("axis", default: -1), rank: xs.count)
        let normalized = Array(xs[axis...])
        for i in 1..<ctx.node.inputs.count where ctx.has(i) {
            let s = try ctx.shape(i)
            guard Shape.broadcast(s, normalized) == normalized else {
                throw WhittleError(.shapeMismatch, "input \(i) \(Shape.describe(s)) does not broadcast to \(Shape.describe(normalized))")
            }
        }
        let statsShape = Array(xs[..<axis]) + Array(repeating: 1, count: xs.count - axis)
        let stash = try ctx.elementType("stash_type") ?? .float
        return [x] + Array(repeating: TensorType(stash, statsShape), count: Swift.max(0, ctx.node.outputs.count - 1))
    })

    static let instanceNormalization = OperatorDefinition("InstanceNormalization", infer: { ctx in
        try ctx.expectInputs(3, 3)
        let xs = try ctx.shape(0)
        guard xs.count >= 3 else { throw WhittleError(.shapeMismatch, "X \(Shape.describe(xs)) must have rank 3 or more") }
        for i in 1...2 where try ctx.shape(i) != [xs[1]] {
            throw WhittleError(.shapeMismatch, "input \(i) must have \(xs[1]) elements, one per channel")
        }
        return [try ctx.type(0)]
    })
}
